// The Overview page: what collection did per day (stored, duplicate, dropped), fields and messages dropped by reason,
// profiles, consent rates per purpose and rights requests open and overdue, from GET /api/v1/overview (counts only).
// Every chart has the same figures as a table.
import type { Lang } from '../../shared/dom.ts';
import type { ConsolePage, PageContext } from '../page.ts';
import { errorText, field, h, number, section, select, table } from '../ui.ts';
import { dayChart, type Line } from './overview-charts.ts';

interface Day {
  day: string;
  stored: number;
  duplicate: number;
  dropped: number;
  droppedFields: number;
}
interface Reason {
  reason: string;
  count: number;
}
interface Overview {
  days: number;
  from: string;
  to: string;
  daily: Day[];
  drops: { fields: Reason[]; messages: Reason[]; daily: { day: string; reason: string; count: number }[] };
  subjects: { total: number };
  consent: { purpose: string; name: Record<Lang, string>; decided: number; granted: number; rate: number | null }[];
  rights: { open: number; overdue: number; awaitingConfirmation: number };
}

const RANGES = ['7', '30', '90'] as const;
const COLORS = { stored: '#0b57d0', duplicate: '#6b6f76', dropped: '#a50e0e' };
/** Distinct colours (and every other line dashed) for the reasons' lines. */
const PALETTE = ['#a50e0e', '#0b57d0', '#7a4a00', '#0f5323', '#6a1b9a', '#00596b', '#8c1d5c', '#3d4a5c', '#5a5a00'];

const REASONS: Record<Lang, Record<string, string>> = {
  en: {
    unknown_event: 'event not in the tracking plan',
    unknown_property: 'property not in the tracking plan',
    unknown_trait: 'trait not in the tracking plan',
    unknown_context: 'context field not in the tracking plan',
    no_purpose: 'no purpose covers it',
    no_basis: 'no valid legal basis (e.g. no consent)',
    special_category: 'special category without explicit consent',
    unverified_identity: 'user id without a valid proof',
    blocked_identity: 'no usable identifier',
    suppressed: 'names an erased identifier',
    nothing_to_keep: 'nothing could be kept',
  },
  it: {
    unknown_event: 'evento non previsto dal piano di tracciamento',
    unknown_property: 'proprietà non prevista dal piano di tracciamento',
    unknown_trait: 'attributo non previsto dal piano di tracciamento',
    unknown_context: 'campo di contesto non previsto dal piano di tracciamento',
    no_purpose: 'nessuna finalità lo copre',
    no_basis: 'nessuna base giuridica valida (es. consenso assente)',
    special_category: 'categoria particolare senza consenso esplicito',
    unverified_identity: 'id utente senza prova valida',
    blocked_identity: 'nessun identificativo utilizzabile',
    suppressed: 'contiene un identificativo cancellato',
    nothing_to_keep: 'nulla da conservare',
  },
};

const TEXT = {
  en: {
    range: 'Period',
    ranges: { '7': 'Last 7 days', '30': 'Last 30 days', '90': 'Last 90 days' } as Record<string, string>,
    loaded: (days: number) => `Overview of the last ${days} days loaded.`,
    glance: 'At a glance',
    stored: 'Messages stored',
    duplicate: 'Duplicates',
    dropped: 'Messages dropped',
    droppedFields: 'Fields dropped',
    profiles: 'Profiles',
    day: 'Day (UTC)',
    messages: 'Messages per day',
    messagesChart: (days: number, s: number, d: number, x: number, busiest: string | null) =>
      `Line chart, messages per day over the last ${days} days: ${s} stored, ${d} duplicates, ${x} dropped in all.` + (busiest ? ` Busiest day: ${busiest}.` : ''),
    messagesTable: 'Messages per day, by outcome',
    col: { stored: 'Stored', duplicate: 'Duplicates', dropped: 'Dropped', droppedFields: 'Fields dropped' },
    asTable: 'The figures as a table',
    drops: 'Drops by reason',
    dropsIntro: 'Fields are dropped when the collection rules do not allow them; a whole message is dropped when nothing of it may be kept.',
    dropsChart: (days: number, top: string | null) => `Line chart, fields dropped per day and reason over the last ${days} days.` + (top ? ` Most frequent reason: ${top}.` : ''),
    reason: 'Reason',
    count: 'Count',
    fieldsTable: 'Fields dropped per reason, in the period',
    messagesDropTable: 'Whole messages dropped per reason, in the period',
    noDrops: 'Nothing was dropped in this period.',
    consent: 'Consent rate per purpose',
    consentIntro: 'People whose decision for the purpose is in force now, and the share of them who gave consent.',
    consentTable: 'Consent rate per purpose, now',
    purpose: 'Purpose',
    decided: 'Decided',
    granted: 'Consented',
    rate: 'Rate',
    noPurposes: 'No purpose is based on consent.',
    rights: 'Rights requests',
    open: 'Open',
    overdue: 'Overdue',
    awaiting: 'Awaiting confirmation',
    rightsNote: 'Open: confirmed and not yet answered. Overdue: open past the due date. Awaiting confirmation: self-service requests whose sender has not entered the code yet.',
    privacy: 'Counts only: nothing here is about one person. Days are UTC days.',
  },
  it: {
    range: 'Periodo',
    ranges: { '7': 'Ultimi 7 giorni', '30': 'Ultimi 30 giorni', '90': 'Ultimi 90 giorni' } as Record<string, string>,
    loaded: (days: number) => `Panoramica degli ultimi ${days} giorni caricata.`,
    glance: 'In sintesi',
    stored: 'Messaggi salvati',
    duplicate: 'Duplicati',
    dropped: 'Messaggi scartati',
    droppedFields: 'Campi scartati',
    profiles: 'Profili',
    day: 'Giorno (UTC)',
    messages: 'Messaggi al giorno',
    messagesChart: (days: number, s: number, d: number, x: number, busiest: string | null) =>
      `Grafico a linee, messaggi al giorno negli ultimi ${days} giorni: in tutto ${s} salvati, ${d} duplicati, ${x} scartati.` + (busiest ? ` Giorno con più messaggi: ${busiest}.` : ''),
    messagesTable: 'Messaggi al giorno, per esito',
    col: { stored: 'Salvati', duplicate: 'Duplicati', dropped: 'Scartati', droppedFields: 'Campi scartati' },
    asTable: 'I dati in tabella',
    drops: 'Scarti per motivo',
    dropsIntro: 'Un campo è scartato quando le regole di raccolta non lo consentono; un messaggio intero quando nulla può esserne conservato.',
    dropsChart: (days: number, top: string | null) => `Grafico a linee, campi scartati al giorno per motivo negli ultimi ${days} giorni.` + (top ? ` Motivo più frequente: ${top}.` : ''),
    reason: 'Motivo',
    count: 'Numero',
    fieldsTable: 'Campi scartati per motivo, nel periodo',
    messagesDropTable: 'Messaggi interi scartati per motivo, nel periodo',
    noDrops: 'Nulla è stato scartato in questo periodo.',
    consent: 'Tasso di consenso per finalità',
    consentIntro: 'Persone con una scelta in vigore per la finalità, e la quota di queste che ha dato il consenso.',
    consentTable: 'Tasso di consenso per finalità, oggi',
    purpose: 'Finalità',
    decided: 'Scelte',
    granted: 'Consensi',
    rate: 'Tasso',
    noPurposes: 'Nessuna finalità si basa sul consenso.',
    rights: 'Richieste degli interessati',
    open: 'Aperte',
    overdue: 'Scadute',
    awaiting: 'In attesa di conferma',
    rightsNote: 'Aperte: confermate e non ancora evase. Scadute: aperte oltre il termine. In attesa di conferma: richieste dal centro privacy il cui mittente non ha ancora inserito il codice.',
    privacy: 'Solo conteggi: nulla qui riguarda una singola persona. I giorni sono giorni UTC.',
  },
};

type Words = (typeof TEXT)['en'];

export const overviewPage: ConsolePage = {
  id: 'overview',
  title: { en: 'Overview', it: 'Panoramica' },
  roles: ['admin', 'dpo', 'analyst'],
  async render(main, ctx) {
    const T = TEXT[ctx.lang];
    const wanted = ctx.params.get('days') ?? '30';
    const days = (RANGES as readonly string[]).includes(wanted) ? wanted : '30';
    const range = select('days', RANGES.map((r) => [r, T.ranges[r]!] as const), days);
    const content = h('div', { class: 'overview' });
    let loading: AbortController | undefined;
    const load = async (n: string, say: boolean) => {
      loading?.abort();
      const own = new AbortController();
      loading = own;
      ctx.signal.addEventListener('abort', () => own.abort());
      const o = await ctx.api.get<Overview>('/api/v1/overview', { days: n });
      if (own.signal.aborted) return;
      content.replaceChildren(...figures(o, ctx, T, own.signal));
      if (say) ctx.announce(T.loaded(o.days));
    };
    range.addEventListener('change', () => {
      ctx.setParams({ days: range.value === '30' ? undefined : range.value });
      load(range.value, true).catch((err: unknown) => ctx.announce(errorText(err, ctx.lang), 'error'));
    });
    const form = h('form', { class: 'overview-range' }, field(T.range, range));
    form.addEventListener('submit', (e) => e.preventDefault());
    main.append(form, content, h('p', { class: 'hint' }, T.privacy));
    await load(days, false);
  },
};

function figures(o: Overview, ctx: PageContext, T: Words, signal: AbortSignal): HTMLElement[] {
  return [glance(o, ctx.lang, T), messagesSection(o, ctx.lang, T, signal), dropsSection(o, ctx.lang, T, signal), consentSection(o, ctx.lang, T), rightsSection(o, ctx.lang, T)];
}

const sum = (days: readonly Day[], k: keyof Omit<Day, 'day'>) => days.reduce((n, d) => n + d[k], 0);
const dayName = (lang: Lang, day: string) => new Intl.DateTimeFormat(lang === 'it' ? 'it-IT' : 'en-GB', { dateStyle: 'medium', timeZone: 'UTC' }).format(new Date(`${day}T00:00:00Z`));
const reasonName = (lang: Lang, code: string) => REASONS[lang][code] ?? code;

function tile(label: string, value: string, warn = false): HTMLElement {
  return h('div', { class: `tile${warn ? ' warn' : ''}` }, h('p', { class: 'tile-label' }, label), h('p', { class: 'figure' }, value));
}

function glance(o: Overview, lang: Lang, T: Words): HTMLElement {
  const n = (x: number) => number(lang, x);
  return section(
    T.glance,
    h(
      'div',
      { class: 'tiles' },
      tile(T.stored, n(sum(o.daily, 'stored'))),
      tile(T.dropped, n(sum(o.daily, 'dropped'))),
      tile(T.droppedFields, n(sum(o.daily, 'droppedFields'))),
      tile(T.profiles, n(o.subjects.total)),
      tile(`${T.rights}: ${T.open.toLowerCase()}`, n(o.rights.open)),
      tile(`${T.rights}: ${T.overdue.toLowerCase()}`, n(o.rights.overdue), o.rights.overdue > 0),
    ),
  );
}

function messagesSection(o: Overview, lang: Lang, T: Words, signal: AbortSignal): HTMLElement {
  const days = o.daily.map((d) => d.day);
  const lines: Line[] = [
    { label: T.stored, color: COLORS.stored, values: o.daily.map((d) => d.stored) },
    { label: T.dropped, color: COLORS.dropped, values: o.daily.map((d) => d.dropped), dash: [6, 4] },
    { label: T.duplicate, color: COLORS.duplicate, values: o.daily.map((d) => d.duplicate), dash: [2, 3] },
  ];
  const busiest = o.daily.reduce<Day | null>((b, d) => (d.stored + d.dropped + d.duplicate > (b ? b.stored + b.dropped + b.duplicate : 0) ? d : b), null);
  const label = T.messagesChart(o.days, sum(o.daily, 'stored'), sum(o.daily, 'duplicate'), sum(o.daily, 'dropped'), busiest ? dayName(lang, busiest.day) : null);
  const rows = [...o.daily].reverse().map((d) => [dayName(lang, d.day), number(lang, d.stored), number(lang, d.duplicate), number(lang, d.dropped), number(lang, d.droppedFields)]);
  return section(
    T.messages,
    h('figure', {}, dayChart(lang, label, days, lines, signal), h('figcaption', { class: 'hint' }, label)),
    h('details', {}, h('summary', {}, T.asTable), table(T.messagesTable, [T.day, T.col.stored, T.col.duplicate, T.col.dropped, T.col.droppedFields], rows)),
  );
}

function dropsSection(o: Overview, lang: Lang, T: Words, signal: AbortSignal): HTMLElement {
  const reasons = o.drops.fields.map((r) => r.reason);
  const parts: Node[] = [h('p', {}, T.dropsIntro)];
  if (reasons.length > 0) {
    const days = o.daily.map((d) => d.day);
    const at = new Map(days.map((d, i) => [d, i]));
    const lines: Line[] = reasons.map((reason, i) => {
      const values = days.map(() => 0);
      for (const r of o.drops.daily) if (r.reason === reason && at.has(r.day)) values[at.get(r.day)!] = r.count;
      return { label: reasonName(lang, reason), color: PALETTE[i % PALETTE.length]!, values, ...(i % 2 === 1 ? { dash: [6, 4] } : {}) };
    });
    const label = T.dropsChart(o.days, reasons[0] ? reasonName(lang, reasons[0]) : null);
    parts.push(h('figure', {}, dayChart(lang, label, days, lines, signal), h('figcaption', { class: 'hint' }, label)));
  }
  const rows = (list: Reason[]) => list.map((r) => [reasonName(lang, r.reason), number(lang, r.count)]);
  if (o.drops.fields.length === 0 && o.drops.messages.length === 0) parts.push(h('p', {}, T.noDrops));
  else {
    parts.push(
      h(
        'details',
        {},
        h('summary', {}, T.asTable),
        table(T.fieldsTable, [T.reason, T.count], rows(o.drops.fields), T.noDrops),
        table(T.messagesDropTable, [T.reason, T.count], rows(o.drops.messages), T.noDrops),
      ),
    );
  }
  return section(T.drops, ...parts);
}

function consentSection(o: Overview, lang: Lang, T: Words): HTMLElement {
  const percent = new Intl.NumberFormat(lang === 'it' ? 'it-IT' : 'en-GB', { style: 'percent', maximumFractionDigits: 1 });
  const rows = o.consent.map((c) => {
    const rate = c.rate === null ? '—' : percent.format(c.rate);
    // The bar repeats the figure beside it for the eye; screen readers read the figure.
    const bar = h('meter', { min: '0', max: '1', value: String(c.rate ?? 0), 'aria-hidden': 'true' });
    return [c.name[lang], number(lang, c.decided), number(lang, c.granted), h('span', { class: 'rate' }, h('span', {}, rate), bar)];
  });
  return section(T.consent, h('p', {}, T.consentIntro), table(T.consentTable, [T.purpose, T.decided, T.granted, T.rate], rows, T.noPurposes));
}

function rightsSection(o: Overview, lang: Lang, T: Words): HTMLElement {
  return section(
    T.rights,
    h(
      'div',
      { class: 'tiles' },
      tile(T.open, number(lang, o.rights.open)),
      tile(T.overdue, number(lang, o.rights.overdue), o.rights.overdue > 0),
      tile(T.awaiting, number(lang, o.rights.awaitingConfirmation)),
    ),
    h('p', { class: 'hint' }, T.rightsNote),
  );
}
