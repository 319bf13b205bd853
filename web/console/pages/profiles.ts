// The Profiles page: one person, looked up by an identity for one purpose, showing only what that purpose may see now
// and, for the rest, why not. Never a list of people; the identity stays out of the address (and so out of history).
import type { Lang } from '../../shared/dom.ts';
import { ApiError } from '../api.ts';
import type { ConsolePage, PageContext } from '../page.ts';
import { button, dateTime, errorText, facts, field, form, h, input, section, select, table } from '../ui.ts';

const REASONS_EN: Record<string, string> = {
  no_consent: 'the person has not given consent for this purpose',
  consent_withdrawn: 'the person withdrew consent for this purpose',
  consent_denied: 'the person refused consent for this purpose',
  notice_outdated: 'consent was given under a privacy notice that has since changed materially',
  objection: 'the person objected to this processing',
  category_not_in_purpose: 'the purpose does not cover this kind of data',
  special_category_needs_explicit_consent: 'special-category data needs explicit consent',
  restricted: 'processing is restricted (Art. 18)',
  erased: 'the data was erased',
  caller_not_allowed: 'your role may not act for this purpose',
  unknown_purpose: 'unknown purpose',
};
const REASONS_IT: Record<string, string> = {
  no_consent: 'la persona non ha dato il consenso per questa finalità',
  consent_withdrawn: 'la persona ha revocato il consenso per questa finalità',
  consent_denied: 'la persona ha negato il consenso per questa finalità',
  notice_outdated: "il consenso è stato dato con un'informativa poi modificata in modo sostanziale",
  objection: 'la persona si è opposta a questo trattamento',
  category_not_in_purpose: 'la finalità non comprende questo tipo di dati',
  special_category_needs_explicit_consent: 'i dati di categorie particolari richiedono un consenso esplicito',
  restricted: 'il trattamento è limitato (art. 18)',
  erased: 'i dati sono stati cancellati',
  caller_not_allowed: 'il tuo ruolo non può agire per questa finalità',
  unknown_purpose: 'finalità sconosciuta',
};

const TEXT = {
  en: {
    intro: 'Look up one person for one purpose: you see only the data that purpose may use now, and for the rest, why not.',
    audited: 'Every lookup is recorded in the audit log: who, when, which purpose, which fields (never their values).',
    lookup: 'Look up a person',
    kind: 'Identifier type',
    kinds: { userId: 'User id', anonymousId: 'Anonymous id', email: 'E-mail address', phone: 'Phone number' },
    value: 'Identifier',
    valueHint: 'Exactly as the shop sent it; it is not kept in the address bar.',
    purpose: 'Purpose',
    find: 'Look up',
    notFound: 'No profile has this identifier (the attempt is recorded in the audit log).',
    found: (purpose: string) => `Profile read for the purpose “${purpose}”.`,
    profile: 'Profile',
    subject: 'Pseudonymous id',
    consent: 'Consent for this purpose',
    consentWords: { granted: 'granted', denied: 'refused', withdrawn: 'withdrawn' } as Record<string, string>,
    noConsent: 'no choice recorded',
    explicit: 'explicit',
    segments: 'Segments',
    traits: 'Data this purpose may see',
    name: 'Field',
    valueCol: 'Value',
    noTraits: 'No data is visible for this purpose.',
    withheld: 'Withheld data',
    why: 'Why',
    code: 'Code',
    noWithheld: 'Nothing of this purpose was withheld.',
    outside: (n: number) => `${n} further field(s) belong to kinds of data this purpose never covers: counted, not named.`,
    computed: 'Computed values',
    events: 'Events for this purpose',
    showEvents: 'Show events',
    more: 'More events',
    time: 'Time',
    type: 'Type',
    event: 'Event',
    properties: 'Visible properties',
    withheldFields: 'Withheld properties',
    noEvents: 'No events visible for this purpose.',
    eventsWithheld: (n: number) => `${n} event(s) of this purpose withheld: `,
    eventsOutside: (n: number) => `${n} event(s) on this page belong to kinds of data this purpose never covers.`,
    eventsShown: (n: number) => `${n} event(s) shown.`,
  },
  it: {
    intro: "Cercare una persona per una finalità: si vedono solo i dati che quella finalità può usare ora e, per gli altri, il motivo.",
    audited: 'Ogni consultazione è registrata nel registro di audit: chi, quando, per quale finalità, quali campi (mai i valori).',
    lookup: 'Cercare una persona',
    kind: 'Tipo di identificativo',
    kinds: { userId: 'Id utente', anonymousId: 'Id anonimo', email: 'Indirizzo e-mail', phone: 'Numero di telefono' },
    value: 'Identificativo',
    valueHint: "Esattamente come l'ha inviato il negozio; non resta nella barra degli indirizzi.",
    purpose: 'Finalità',
    find: 'Cerca',
    notFound: 'Nessun profilo ha questo identificativo (il tentativo è registrato nel registro di audit).',
    found: (purpose: string) => `Profilo letto per la finalità «${purpose}».`,
    profile: 'Profilo',
    subject: 'Id pseudonimo',
    consent: 'Consenso per questa finalità',
    consentWords: { granted: 'dato', denied: 'negato', withdrawn: 'revocato' } as Record<string, string>,
    noConsent: 'nessuna scelta registrata',
    explicit: 'esplicito',
    segments: 'Segmenti',
    traits: 'Dati che questa finalità può vedere',
    name: 'Campo',
    valueCol: 'Valore',
    noTraits: 'Nessun dato è visibile per questa finalità.',
    withheld: 'Dati non mostrati',
    why: 'Motivo',
    code: 'Codice',
    noWithheld: 'Nessun dato di questa finalità è stato trattenuto.',
    outside: (n: number) => `Altri ${n} campi appartengono a tipi di dati che questa finalità non comprende mai: contati, non nominati.`,
    computed: 'Valori calcolati',
    events: 'Eventi per questa finalità',
    showEvents: 'Mostra gli eventi',
    more: 'Altri eventi',
    time: 'Ora',
    type: 'Tipo',
    event: 'Evento',
    properties: 'Proprietà visibili',
    withheldFields: 'Proprietà non mostrate',
    noEvents: 'Nessun evento visibile per questa finalità.',
    eventsWithheld: (n: number) => `${n} eventi di questa finalità non mostrati: `,
    eventsOutside: (n: number) => `${n} eventi di questa pagina appartengono a tipi di dati che questa finalità non comprende mai.`,
    eventsShown: (n: number) => `${n} eventi mostrati.`,
  },
} satisfies Record<Lang, unknown>;

type Words = (typeof TEXT)[Lang];
type Withheld = { field: string; reason: string };
interface Profile {
  subjectId: string;
  traits: Record<string, unknown>;
  withheld: Withheld[];
  withheldOutsidePurpose: number;
  segments: unknown[];
  computed: Record<string, unknown>;
  consents: Record<string, { status: string; noticeVersion: string; method: string; at: string; explicit: boolean }>;
}
interface EventsPage {
  events: { id: string; type: string; event: string | null; timestamp: string; properties: Record<string, unknown>; withheld: Withheld[] }[];
  withheld: { id: string; reason: string }[];
  withheldOutsidePurpose: number;
  nextCursor: string | null;
}
interface NoticePurpose {
  key: string;
  name: string;
}

/** A withheld reason in words, in the page's language (the code is shown beside it). */
export function reasonWords(lang: Lang, code: string): string {
  return (lang === 'it' ? REASONS_IT : REASONS_EN)[code] ?? code;
}

/** A value as text: strings as they are, anything else as compact JSON. */
function show(v: unknown): string {
  return typeof v === 'string' ? v : JSON.stringify(v);
}

const codeCell = (c: string) => h('code', {}, c);

function withheldTable(lang: Lang, T: Words, rows: readonly Withheld[]): HTMLElement {
  return table(T.withheld, [T.name, T.why, T.code], rows.map((w) => [w.field, reasonWords(lang, w.reason), codeCell(w.reason)]), T.noWithheld);
}

function consentFact(lang: Lang, T: Words, p: Profile, purpose: string): string {
  const c = p.consents[purpose];
  if (!c) return T.noConsent;
  return `${T.consentWords[c.status] ?? c.status}${c.explicit ? ` (${T.explicit})` : ''} · ${dateTime(lang, c.at)} · ${c.noticeVersion}`;
}

function segmentName(s: unknown): string {
  if (typeof s === 'string') return s;
  if (s && typeof s === 'object') {
    const o = s as Record<string, unknown>;
    const n = o['name'] ?? o['key'] ?? o['id'];
    if (typeof n === 'string') return n;
  }
  return JSON.stringify(s);
}

/** What the purpose sees of the person: facts, traits, withheld fields with their reasons, computed values. */
function profileView(lang: Lang, T: Words, p: Profile, purpose: string, purposeName: string): HTMLElement {
  const traits = Object.entries(p.traits).map(([k, v]) => [k, show(v)] as const);
  const computed = Object.entries(p.computed).map(([k, v]) => [k, show(v)] as const);
  const parts: Node[] = [
    facts([
      [T.purpose, purposeName],
      [T.subject, h('code', {}, p.subjectId)],
      [T.consent, consentFact(lang, T, p, purpose)],
      [T.segments, p.segments.length === 0 ? '—' : p.segments.map(segmentName).join(', ')],
    ]),
    table(T.traits, [T.name, T.valueCol], traits, T.noTraits),
    withheldTable(lang, T, p.withheld),
  ];
  if (p.withheldOutsidePurpose > 0) parts.push(h('p', { class: 'hint' }, T.outside(p.withheldOutsidePurpose)));
  if (computed.length > 0) parts.push(table(T.computed, [T.name, T.valueCol], computed));
  return section(T.profile, ...parts);
}

/** The person's events for the purpose, a page at a time (the cursor stays in this closure, not in the address). */
function eventsView(ctx: PageContext, T: Words, path: string, purpose: string): HTMLElement {
  const body = h('div', {});
  const show1 = button(T.showEvents);
  const more = button(T.more, { hidden: '' });
  let cursor: string | null = null;
  const load = async () => {
    const page = await ctx.api.get<EventsPage>(`${path}/events`, { purpose, cursor: cursor ?? undefined, limit: 50 });
    cursor = page.nextCursor;
    const rows = page.events.map((e) => [
      dateTime(ctx.lang, e.timestamp),
      e.type,
      e.event,
      Object.keys(e.properties).length === 0 ? null : show(e.properties),
      e.withheld.length === 0 ? null : e.withheld.map((w) => `${w.field}: ${reasonWords(ctx.lang, w.reason)} (${w.reason})`).join('; '),
    ]);
    body.append(table(T.events, [T.time, T.type, T.event, T.properties, T.withheldFields], rows, T.noEvents));
    if (page.withheld.length > 0) {
      const counts = new Map<string, number>();
      for (const w of page.withheld) counts.set(w.reason, (counts.get(w.reason) ?? 0) + 1);
      const why = [...counts].map(([r, n]) => `${reasonWords(ctx.lang, r)} (${r}): ${n}`).join('; ');
      body.append(h('p', { class: 'hint' }, T.eventsWithheld(page.withheld.length), why));
    }
    if (page.withheldOutsidePurpose > 0) body.append(h('p', { class: 'hint' }, T.eventsOutside(page.withheldOutsidePurpose)));
    more.hidden = cursor === null;
    ctx.announce(T.eventsShown(page.events.length));
  };
  const run = (b: HTMLButtonElement) => () => {
    b.disabled = true;
    load()
      .catch((err: unknown) => ctx.announce(errorText(err, ctx.lang), 'error'))
      .finally(() => (b.disabled = false));
  };
  show1.addEventListener('click', () => {
    show1.remove();
    run(more)();
  });
  more.addEventListener('click', run(more));
  return section(T.events, body, show1, more);
}

export const profilesPage: ConsolePage = {
  id: 'profiles',
  title: { en: 'Profiles', it: 'Profili' },
  // The API reads one person's profile for admin, dpo and service tokens; analysts see aggregates only.
  roles: ['admin', 'dpo'],
  async render(main, ctx) {
    const T = TEXT[ctx.lang];
    const { purposes } = await ctx.api.get<{ purposes: NoticePurpose[] }>('/api/v1/ropa/purposes', { lang: ctx.lang });
    const wanted = ctx.params.get('purpose') ?? undefined;
    const chosen = purposes.some((p) => p.key === wanted) ? wanted : purposes[0]?.key;
    const out = h('div', {});
    const kinds = Object.entries(T.kinds) as [string, string][];
    const lookup = form(
      T.lookup,
      [
        field(T.kind, select('kind', kinds, 'userId')),
        field(T.value, input('value', { required: '', maxlength: '500', autocomplete: 'off', spellcheck: 'false' }), T.valueHint),
        field(T.purpose, select('purpose', purposes.map((p) => [p.key, p.name] as const), chosen)),
        h('button', { type: 'submit', class: 'primary' }, T.find),
      ],
      async (data) => {
        const purpose = String(data.get('purpose'));
        const purposeName = purposes.find((p) => p.key === purpose)?.name ?? purpose;
        const path = `/api/v1/profiles/${encodeURIComponent(`${String(data.get('kind'))}:${String(data.get('value')).trim()}`)}`;
        ctx.setParams({ purpose });
        out.replaceChildren();
        try {
          const p = await ctx.api.get<Profile>(path, { purpose });
          out.append(profileView(ctx.lang, T, p, purpose, purposeName), eventsView(ctx, T, path, purpose));
          ctx.announce(T.found(purposeName));
        } catch (err) {
          if (!(err instanceof ApiError && err.status === 404)) throw err;
          out.append(h('p', { class: 'error' }, T.notFound));
          ctx.announce(T.notFound, 'error');
        }
      },
      (err) => ctx.announce(errorText(err, ctx.lang), 'error'),
    );
    main.append(h('div', { class: 'page-profiles' }, h('p', {}, T.intro), h('p', { class: 'hint' }, T.audited), section(T.lookup, lookup), out));
  },
};
