// CSV for spreadsheets (RFC 4180, CRLF line ends), with one rule against formula injection for every export.

// OWASP's list: a spreadsheet may run a cell starting with one of these as a formula (tab and CR can precede one).
const FORMULA_START = /^[=+\-@\t\r]/;

/**
 * One CSV cell. `null`/`undefined` are empty and other non-strings are written as JSON. Text starting with `=`, `+`,
 * `-`, `@`, tab or CR gets a leading apostrophe, numbers included: the rule has no exceptions to get wrong. A cell
 * holding a quote, comma or line break is quoted, with quotes doubled.
 */
export function csvCell(value: unknown): string {
  let s = value === null || value === undefined ? '' : typeof value === 'string' ? value : JSON.stringify(value);
  if (FORMULA_START.test(s)) s = `'${s}`;
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** A whole table, one record per row, each ended by CRLF (RFC 4180). */
export function csvTable(rows: readonly (readonly unknown[])[]): string {
  return rows.map((row) => `${row.map(csvCell).join(',')}\r\n`).join('');
}
