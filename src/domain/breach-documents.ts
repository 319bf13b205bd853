// The documents made from the breach register: the notification to the supervisory authority (Art. 33(3)) and the notice to the people concerned (Art. 34(2)), as a structure, plain text or HTML. Pure.
import { missingItems, notificationDeadline, type BreachFacts, type BreachStatus, type LocalizedText, type NotRequiredReason } from './breach.ts';
import { BREACH_TEXTS, type BreachTexts, type Lang } from './breach-texts.ts';
import { escapeHtml } from './html.ts';

export type { Lang } from './breach-texts.ts';

export interface BreachDocInput {
  id: string;
  controller: { name: string; contact: string; country: string };
  facts: BreachFacts;
  status: BreachStatus;
  authorityNotifiedAt: number | null;
  authorityReference: string | null;
  delayReason: LocalizedText | null;
  notRequiredReason: NotRequiredReason | null;
  subjectsNotified: number;
  /** A category's name in `lang` and whether it is special (Art. 9); the key itself when the configuration lacks it. */
  categoryName(key: string, lang: Lang): { name: string; special: boolean };
  generatedAt: number;
}

export interface DocSection {
  heading: string;
  /** Paragraphs, in order. */
  lines: string[];
  /** A bulleted list after the paragraphs. */
  list?: string[] | undefined;
}

export interface BreachDocument {
  kind: 'authority' | 'subjects';
  lang: Lang;
  title: string;
  intro: string[];
  sections: DocSection[];
}

/** A time as both languages read it: `2026-05-04 13:20 UTC`. */
export function formatTime(at: number): string {
  return `${new Date(at).toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

function formatCount(n: number, lang: Lang): string {
  return n.toLocaleString(lang === 'it' ? 'it-IT' : 'en-GB');
}

/** The text in `lang`; otherwise the other language's, marked as such; null when there is none. */
export function localized(text: LocalizedText | null, lang: Lang, t: BreachTexts): string | null {
  if (!text) return null;
  const own = text[lang];
  if (own) return own;
  const other = text[lang === 'it' ? 'en' : 'it'];
  return other ? `${other} ${t.onlyIn}` : null;
}

const labelled = (label: string, value: string) => `${label}: ${value}`;

function categoryList(input: BreachDocInput, lang: Lang, t: BreachTexts): string[] {
  return input.facts.categories.map((key) => {
    const c = input.categoryName(key, lang);
    return c.special ? `${c.name} (${t.special})` : c.name;
  });
}

function natureSection(input: BreachDocInput, lang: Lang, t: BreachTexts, withCounts: boolean): DocSection {
  const f = input.facts;
  const count = (n: number | null) => (n === null ? t.notKnown : t.about(formatCount(n, lang)));
  const lines = [labelled(t.natureIntro, f.nature.map((n) => t.natures[n]).join('; ')), labelled(t.description, localized(f.description, lang, t) ?? t.notKnown)];
  if (withCounts) lines.push(labelled(t.approxSubjects, count(f.approxSubjects)), labelled(t.approxRecords, count(f.approxRecords)));
  const categories = categoryList(input, lang, t);
  lines.push(`${t.categories}:${categories.length === 0 ? ` ${t.notKnown}` : ''}`);
  return { heading: t.natureHeading, lines, list: categories };
}

function timelineSection(input: BreachDocInput, t: BreachTexts, lang: Lang): DocSection {
  const f = input.facts;
  const deadline = notificationDeadline(f.awareAt);
  const lines = [
    labelled(t.awareAt, formatTime(f.awareAt)),
    labelled(t.occurredAt, f.occurredAt === null ? t.notKnown : formatTime(f.occurredAt)),
    labelled(t.deadline, formatTime(deadline)),
  ];
  if (input.authorityNotifiedAt === null) lines.push(t.notYetNotified);
  else {
    lines.push(labelled(t.notifiedAt, formatTime(input.authorityNotifiedAt)));
    if (input.authorityReference) lines.push(labelled(t.authorityReference, input.authorityReference));
    lines.push(input.authorityNotifiedAt > deadline ? t.late : t.onTime);
  }
  const delay = localized(input.delayReason, lang, t);
  if (delay) lines.push(labelled(t.delayReasons, delay));
  return { heading: t.timeline, lines };
}

function contactSection(input: BreachDocInput, t: BreachTexts, heading: string): DocSection {
  const c = input.facts.contact;
  const lines = [labelled(t.name, c.name), labelled(t.email, c.email)];
  if (c.phone) lines.push(labelled(t.phone, c.phone));
  return { heading, lines };
}

function measuresLines(input: BreachDocInput, lang: Lang, t: BreachTexts): string[] {
  const f = input.facts;
  return [labelled(t.measuresTaken, localized(f.measuresTaken, lang, t) ?? t.notKnown), labelled(t.measuresProposed, localized(f.measuresProposed, lang, t) ?? t.notKnown)];
}

function subjectsLine(input: BreachDocInput, lang: Lang, t: BreachTexts): string {
  if (input.notRequiredReason) return t.notRequired[input.notRequiredReason];
  if (input.subjectsNotified > 0) return t.subjectsSent(formatCount(input.subjectsNotified, lang));
  return t.subjectsPending;
}

/** The notification to the supervisory authority: every item of Art. 33(3), the timing, and what follows later (Art. 33(4)). */
export function authorityNotification(input: BreachDocInput, lang: Lang): BreachDocument {
  const t = BREACH_TEXTS[lang];
  const c = input.controller;
  const missing = missingItems(input.facts);
  return {
    kind: 'authority',
    lang,
    title: t.authorityTitle,
    intro: [
      labelled(t.controller, `${c.name} (${t.country}: ${c.country}; ${t.contactOf}: ${c.contact})`),
      labelled(t.reference, input.id),
      labelled(t.generated, formatTime(input.generatedAt)),
    ],
    sections: [
      timelineSection(input, t, lang),
      natureSection(input, lang, t, true),
      contactSection(input, t, t.contactHeading),
      { heading: t.consequencesHeading, lines: [localized(input.facts.consequences, lang, t) ?? t.notKnown] },
      { heading: t.measuresHeading, lines: measuresLines(input, lang, t) },
      { heading: t.encryptionHeading, lines: [t.encryption[input.facts.encryption]] },
      { heading: t.subjectsHeading, lines: [subjectsLine(input, lang, t)] },
      { heading: t.phasesHeading, lines: [missing.length === 0 ? t.phasesComplete : t.phasesMissing], list: missing.map((m) => t.missing[m] ?? m) },
    ],
  };
}

/** The notice to a person concerned, in clear and plain language: what happened, the data, the consequences, the measures and the contact point (Art. 34(2)). */
export function subjectNotice(input: BreachDocInput, lang: Lang): BreachDocument {
  const t = BREACH_TEXTS[lang];
  const f = input.facts;
  const when = f.occurredAt === null ? [] : [labelled(t.occurredAt, formatTime(f.occurredAt))];
  const sections: DocSection[] = [
    { heading: t.whatHappened, lines: [localized(f.description, lang, t) ?? t.notKnown, ...when], list: f.nature.map((n) => t.natures[n]) },
    { heading: t.whichData, lines: categoryList(input, lang, t).length === 0 ? [t.notKnown] : [], list: categoryList(input, lang, t) },
    { heading: t.whatItMeans, lines: [localized(f.consequences, lang, t) ?? t.notKnown] },
    { heading: t.whatWeDid, lines: [...measuresLines(input, lang, t), ...(f.encryption === 'keys_safe' ? [t.encryption.keys_safe] : [])] },
    { heading: t.whatYouCanDo, lines: [localized(f.adviceToSubjects, lang, t) ?? t.defaultAdvice] },
    contactSection(input, t, `${t.questions}: ${t.questionsText}`),
  ];
  return { kind: 'subjects', lang, title: t.subjectTitle, intro: [t.subjectIntro(input.controller.name)], sections };
}

/** Plain text: the title, the introduction, then each section with its heading underlined. */
export function documentText(doc: BreachDocument): string {
  const out = [doc.title, '='.repeat(Math.min(doc.title.length, 80)), '', ...doc.intro, ''];
  for (const s of doc.sections) {
    out.push(s.heading, '-'.repeat(Math.min(s.heading.length, 80)), ...s.lines);
    for (const item of s.list ?? []) out.push(`- ${item}`);
    out.push('');
  }
  return out.join('\n');
}

const STYLE = 'body{font:16px/1.5 system-ui,sans-serif;max-width:48rem;margin:2rem auto;padding:0 1rem;color:#1a1a1a}h2{margin-top:1.75rem;font-size:1.15rem}p{white-space:pre-line}';

/** A self-contained page: every value escaped, one stylesheet in the head (its hash goes in the CSP). */
export function documentHtml(doc: BreachDocument): string {
  const sections = doc.sections.map((s) => {
    const list = s.list && s.list.length > 0 ? `\n<ul>${s.list.map((i) => `<li>${escapeHtml(i)}</li>`).join('')}</ul>` : '';
    return `<section>\n<h2>${escapeHtml(s.heading)}</h2>\n${s.lines.map((l) => `<p>${escapeHtml(l)}</p>`).join('\n')}${list}\n</section>`;
  });
  return `<!doctype html>
<html lang="${doc.lang}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(doc.title)}</title>
<style>${STYLE}</style>
</head>
<body>
<main>
<h1>${escapeHtml(doc.title)}</h1>
${doc.intro.map((l) => `<p>${escapeHtml(l)}</p>`).join('\n')}
${sections.join('\n')}
</main>
</body>
</html>
`;
}

/** The subject notice as an email: subject line and plain text. */
export function noticeMail(input: BreachDocInput, lang: Lang): { subject: string; text: string } {
  const t = BREACH_TEXTS[lang];
  return { subject: t.mailSubject(input.controller.name), text: `${documentText(subjectNotice(input, lang))}\n${t.signature(input.controller.name)}\n` };
}
