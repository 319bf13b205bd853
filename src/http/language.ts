// The language of a page Fiducia renders: `?lang=`, else Accept-Language, else the configuration's first language.
import type { FastifyRequest } from 'fastify';

export type PageLang = 'it' | 'en';

/** Only so much of Accept-Language is read: a stranger's header is bounded before it is split. */
const ACCEPT_MAX = 256;

/** `lang` when given (the schema has checked it), else the first of ours in Accept-Language, else the configuration's first. */
export function pageLanguage(req: FastifyRequest, lang: PageLang | undefined, languages: readonly PageLang[]): PageLang {
  if (lang !== undefined) return lang;
  const accept = req.headers['accept-language'];
  if (typeof accept === 'string') {
    for (const part of accept.slice(0, ACCEPT_MAX).split(',')) {
      const tag = part.trim().slice(0, 2).toLowerCase();
      const ours = languages.find((l) => l === tag);
      if (ours) return ours;
    }
  }
  return languages[0] ?? 'en';
}
