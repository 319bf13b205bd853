// Reads an HTTP `Retry-After` header (delay in seconds, or an HTTP date) into a bounded wait in milliseconds.

/** A receiver may ask for a longer pause; the delivery worker never waits more than this on its word. */
export const MAX_RETRY_AFTER_MS = 3_600_000;

/** Longer than any well-formed value, so anything longer is refused before a pattern runs on it. */
const MAX_HEADER_LENGTH = 64;

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

// RFC 9110 §5.6.7: senders use the first form; recipients must also read the two obsolete ones.
const IMF_FIXDATE = /^(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), (\d{2}) ([A-Z][a-z]{2}) (\d{4}) (\d{2}):(\d{2}):(\d{2}) GMT$/;
const RFC850_DATE = /^(?:Mon|Tues|Wednes|Thurs|Fri|Satur|Sun)day, (\d{2})-([A-Z][a-z]{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2}) GMT$/;
const ASCTIME_DATE = /^(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) ([A-Z][a-z]{2}) ([ \d]\d) (\d{2}):(\d{2}):(\d{2}) (\d{4})$/;
const DELAY_SECONDS = /^\d+$/;

/**
 * The wait a `Retry-After` value asks for, in milliseconds from `nowMs`, between 0 and {@link MAX_RETRY_AFTER_MS};
 * null when the header is absent or malformed.
 */
export function parseRetryAfter(value: string | undefined, nowMs: number): number | null {
  if (value === undefined || value.length > MAX_HEADER_LENGTH) return null;
  const text = value.trim();
  if (DELAY_SECONDS.test(text)) return Math.min(Number(text) * 1000, MAX_RETRY_AFTER_MS);
  const at = parseHttpDate(text, nowMs);
  return at === null ? null : Math.min(Math.max(at - nowMs, 0), MAX_RETRY_AFTER_MS);
}

function parseHttpDate(text: string, nowMs: number): number | null {
  let parts: { day: string; month: string; year: number; hour: string; minute: string; second: string } | null = null;
  const imf = IMF_FIXDATE.exec(text);
  const rfc850 = imf ? null : RFC850_DATE.exec(text);
  const asctime = imf || rfc850 ? null : ASCTIME_DATE.exec(text);
  if (imf) {
    const [, day = '', month = '', year = '', hour = '', minute = '', second = ''] = imf;
    parts = { day, month, year: Number(year), hour, minute, second };
  } else if (rfc850) {
    const [, day = '', month = '', year = '', hour = '', minute = '', second = ''] = rfc850;
    parts = { day, month, year: twoDigitYear(Number(year), nowMs), hour, minute, second };
  } else if (asctime) {
    const [, month = '', day = '', hour = '', minute = '', second = '', year = ''] = asctime;
    parts = { day: day.trim(), month, year: Number(year), hour, minute, second };
  }
  if (parts === null) return null;
  const month = MONTHS.indexOf(parts.month);
  const [day, hour, minute, second] = [parts.day, parts.hour, parts.minute, parts.second].map(Number) as [number, number, number, number];
  if (month < 0 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) return null;
  return Date.UTC(parts.year, month, day, hour, minute, second);
}

/** RFC 9110: a two-digit year more than 50 years ahead is the most recent past year with those last two digits. */
function twoDigitYear(yy: number, nowMs: number): number {
  const year = 2000 + yy;
  return year > new Date(nowMs).getUTCFullYear() + 50 ? year - 100 : year;
}
