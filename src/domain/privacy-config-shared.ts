// Building blocks the privacy configuration's validators share: TypeBox pieces, error paths, the dotted-prefix rule.
import { Type } from '@sinclair/typebox';
import type { TProperties } from '@sinclair/typebox';

/** One problem in a configuration: `path` is like `purposes[2].legalBasis` or `trackingPlan.events["Order Completed"]`. */
export interface ConfigError {
  path: string;
  message: string;
  /** The `fiducia check` rule this problem belongs to, when it is one of them (src/domain/privacy-lint.ts). */
  rule?: string;
}

export const Text = Type.String({ minLength: 1, errorMessage: 'must be a non-empty string' });
export const Country = Type.String({ pattern: '^[A-Z]{2}$', errorMessage: 'must be an ISO 3166-1 alpha-2 country code, e.g. "IT"' });
export const oneOf = <T extends string>(values: readonly T[]) => Type.Union(values.map((v) => Type.Literal(v)));
// Every object is closed so that a typo is an error, never silently ignored.
export const Closed = <T extends TProperties>(properties: T) => Type.Object(properties, { additionalProperties: false });
export const Opt = Type.Optional;

export type PathSegment = string | number;

/** `['purposes', 2, 'legalBasis']` → `purposes[2].legalBasis`; keys that are not identifiers are quoted: `events["Order Completed"]`. */
export function formatConfigPath(segments: readonly PathSegment[]): string {
  let out = '';
  for (const s of segments) {
    if (typeof s === 'number') out += `[${s}]`;
    else if (/^[A-Za-z_$][\w$]*$/.test(s)) out += out === '' ? s : `.${s}`;
    else out += `[${JSON.stringify(s)}]`;
  }
  return out;
}

/** True when `entry` equals `category` or is a dotted prefix of it (`user.contact` covers `user.contact.email`). */
export function entryCovers(entry: string, category: string): boolean {
  return category === entry || category.startsWith(`${entry}.`);
}

/** The errors of the semantic checks, in the order found. */
export class SemanticErrors {
  readonly list: ConfigError[] = [];

  add(segments: PathSegment[], message: string, rule?: string): void {
    this.list.push(rule === undefined ? { path: formatConfigPath(segments), message } : { path: formatConfigPath(segments), message, rule });
  }

  /** Each value met a second time, at its own path. */
  duplicates(values: readonly string[], segments: (i: number) => PathSegment[], what: string): void {
    const seen = new Set<string>();
    values.forEach((v, i) => (seen.has(v) ? this.add(segments(i), `duplicate ${what} "${v}"`) : seen.add(v)));
  }
}
