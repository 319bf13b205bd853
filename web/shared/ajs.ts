// The visitor's ids as analytics.js (Segment) keeps them, so the widget, the demo's sender and analytics.js share one anonymousId.

/** analytics.js keeps ids JSON-encoded in localStorage or in a cookie of the same name. */
export function ajs(name: string): string | undefined {
  let v: string | null | undefined;
  try {
    v = localStorage.getItem(name);
  } catch {}
  v ||= document.cookie.match(new RegExp(`(?:^|; )${name}=([^;]*)`))?.[1];
  if (!v) return;
  v = decodeURIComponent(v);
  try {
    v = JSON.parse(v) as string;
  } catch {}
  return v ? String(v) : undefined;
}

/** A random UUID (v4); crypto.randomUUID needs a secure context, getRandomValues does not. */
export function uuid(): string {
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6]! & 15) | 64;
  b[8] = (b[8]! & 63) | 128;
  const h = Array.from(b, (x) => (x + 256).toString(16).slice(1)).join('');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** The shared anonymousId, created (and stored where analytics.js looks for it) when first needed. */
export function anonymousId(): string {
  let id = ajs('ajs_anonymous_id');
  if (!id) {
    id = uuid();
    try {
      localStorage.setItem('ajs_anonymous_id', JSON.stringify(id));
    } catch {}
  }
  return id;
}
