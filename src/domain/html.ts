// HTML escaping for every page the server renders (record of processing, notice, access package, web pages).

const ENTITIES: Readonly<Record<string, string>> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/**
 * A value as HTML text or as a quoted attribute value (either quote): the five characters that could open a tag, end
 * an attribute or start an entity become entities. `null`/`undefined` are empty and other non-strings are written as
 * JSON, so a table cell shows the value itself rather than `[object Object]`. Unquoted attributes are not supported.
 */
export function escapeHtml(value: unknown): string {
  const s = value === null || value === undefined ? '' : typeof value === 'string' ? value : JSON.stringify(value);
  return s.replace(/[&<>"']/g, (c) => ENTITIES[c]!);
}
