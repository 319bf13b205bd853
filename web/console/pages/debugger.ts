// The live debugger of a source (docs/debugger.md): its latest messages as they arrive, newest first, and for each the
// fields stored and the fields dropped with the reason, as names and reason codes in words (never values). It polls
// `GET /api/v1/sources/:id/debugger?since=<cursor>` every two seconds while the page is open and the tab visible.
import type { Lang } from '../../shared/dom.ts';
import { ApiError } from '../api.ts';
import type { ConsolePage, PageContext } from '../page.ts';
import { button, dateTime, errorText, facts, field, form, h, input, section, select } from '../ui.ts';

interface Drop {
  field: string;
  reason: string;
}
interface Line {
  id: string;
  receivedAt: string;
  type: string;
  event: string | null;
  messageId: string;
  outcome: string;
  reason: string | null;
  identity: { userId: string; anonymousId: boolean };
  stored: string[];
  dropped: Drop[];
  omitted: number;
}
interface DebuggerAnswer {
  source: { id: string; name: string; kind: string };
  entries: Line[];
  cursor: string | null;
  keep: number;
}
interface Source {
  id: string;
  name: string;
  kind: string;
  revokedAt: string | null;
}

const POLL_MS = 2000;
/** Rows kept on screen (and asked for at once): the oldest go when newer arrive. */
const MAX_ROWS = 100;
/** "n new events" is said at most this often, however busy the source. */
const ANNOUNCE_MS = 8000;

type Words = Record<Lang, string>;
/** Reason codes of the collection rules (docs/debugger.md), in words; an unknown code is shown as it is. */
const REASONS: Record<string, Words> = {
  unknown_event: { en: 'event not in the tracking plan', it: 'evento non previsto dal piano di tracciamento' },
  unknown_property: { en: 'property not in the tracking plan', it: 'proprietà non prevista dal piano di tracciamento' },
  unknown_trait: { en: 'trait not in the tracking plan', it: 'attributo non previsto dal piano di tracciamento' },
  unknown_context: { en: 'context field not in the tracking plan', it: 'campo di contesto non previsto dal piano di tracciamento' },
  no_purpose: { en: 'no purpose covers its category', it: 'nessuna finalità copre la sua categoria' },
  no_basis: { en: 'no valid legal basis for this person now (e.g. no consent)', it: 'nessuna base giuridica valida ora per questa persona (ad es. manca il consenso)' },
  special_category: { en: 'special category (Art. 9) without explicit consent', it: 'categoria particolare (art. 9) senza consenso esplicito' },
  unverified_identity: { en: 'userId from a browser without a valid userHash', it: 'userId da un browser senza un userHash valido' },
  blocked_identity: { en: 'no usable userId or anonymousId', it: 'nessun userId o anonymousId utilizzabile' },
  suppressed: { en: 'it names an identifier suppressed by an erasure', it: 'riguarda un identificativo soppresso da una cancellazione' },
  nothing_to_keep: { en: 'nothing could be stored and no profile is known', it: 'nulla poteva essere salvato e nessun profilo è noto' },
};
const OUTCOMES: Record<string, Words> = {
  stored: { en: 'stored', it: 'salvato' },
  duplicate: { en: 'duplicate (already received)', it: 'duplicato (già ricevuto)' },
  dropped: { en: 'dropped', it: 'scartato' },
};
const USER_ID: Record<string, Words> = {
  none: { en: 'no userId', it: 'nessun userId' },
  asserted: { en: 'userId asserted by a server source', it: 'userId affermato da una sorgente server' },
  verified: { en: 'userId verified by its userHash', it: 'userId verificato dal suo userHash' },
  unverified: { en: 'userId not verified: dropped, kept on the anonymous visitor', it: 'userId non verificato: scartato, resta sul visitatore anonimo' },
};

const TEXT = {
  en: {
    intro: 'The latest messages a source received and what became of each: the fields stored, the fields dropped and why. Names and reason codes only, never values.',
    chooseTitle: 'Source',
    source: 'Source',
    revoked: 'revoked',
    kinds: { browser: 'browser', server: 'server' } as Record<string, string>,
    watch: 'Watch this source',
    sourceId: 'Source id',
    sourceIdHint: 'Your role cannot list sources: ask an admin for the id, or follow a link from the sources page.',
    noSources: 'There is no source yet: an admin creates one in “Sources and write keys”.',
    eventsOf: (name: string) => `Latest events of “${name}”`,
    listLabel: 'Events, newest first',
    pause: 'Pause',
    resume: 'Resume',
    watching: `Watching: checked every ${POLL_MS / 1000} seconds.`,
    paused: 'Paused: new events are not fetched.',
    hidden: 'Paused while this tab is hidden.',
    stopped: 'Stopped.',
    bounded: (n: number) => `At most the latest ${n} are listed here.`,
    empty: 'No events yet: send one and it appears here within a few seconds.',
    newEvents: (n: number) => (n === 1 ? '1 new event' : `${n} new events`),
    droppedCount: (n: number) => (n === 1 ? '1 field dropped' : `${n} fields dropped`),
    received: 'Received',
    type: 'Type',
    messageId: 'Message id',
    userId: 'userId',
    anonymousId: 'anonymousId',
    present: 'present',
    absent: 'absent',
    whyDropped: 'Why the message was dropped',
    stored: (n: number) => `Fields stored (${n})`,
    dropped: (n: number) => `Fields dropped (${n})`,
    none: 'none',
    omitted: (n: number) => `${n} more names not listed.`,
    noEvent: '(no name)',
  },
  it: {
    intro: 'Gli ultimi messaggi ricevuti da una sorgente e che cosa ne è stato: i campi salvati, i campi scartati e perché. Solo nomi e codici, mai valori.',
    chooseTitle: 'Sorgente',
    source: 'Sorgente',
    revoked: 'revocata',
    kinds: { browser: 'browser', server: 'server' } as Record<string, string>,
    watch: 'Osserva questa sorgente',
    sourceId: 'Id della sorgente',
    sourceIdHint: 'Il tuo ruolo non può elencare le sorgenti: chiedere l’id a un amministratore, o seguire un link dalla pagina delle sorgenti.',
    noSources: 'Non esiste ancora alcuna sorgente: un amministratore la crea in “Sorgenti e chiavi di scrittura”.',
    eventsOf: (name: string) => `Ultimi eventi di “${name}”`,
    listLabel: 'Eventi, dal più recente',
    pause: 'Pausa',
    resume: 'Riprendi',
    watching: `In osservazione: controllo ogni ${POLL_MS / 1000} secondi.`,
    paused: 'In pausa: i nuovi eventi non vengono letti.',
    hidden: 'In pausa finché questa scheda è nascosta.',
    stopped: 'Fermo.',
    bounded: (n: number) => `Qui sono elencati al massimo gli ultimi ${n}.`,
    empty: 'Nessun evento per ora: inviarne uno e comparirà qui entro pochi secondi.',
    newEvents: (n: number) => (n === 1 ? '1 nuovo evento' : `${n} nuovi eventi`),
    droppedCount: (n: number) => (n === 1 ? '1 campo scartato' : `${n} campi scartati`),
    received: 'Ricevuto',
    type: 'Tipo',
    messageId: 'Id del messaggio',
    userId: 'userId',
    anonymousId: 'anonymousId',
    present: 'presente',
    absent: 'assente',
    whyDropped: 'Perché il messaggio è stato scartato',
    stored: (n: number) => `Campi salvati (${n})`,
    dropped: (n: number) => `Campi scartati (${n})`,
    none: 'nessuno',
    omitted: (n: number) => `Altri ${n} nomi non elencati.`,
    noEvent: '(senza nome)',
  },
} satisfies Record<Lang, unknown>;
type T = (typeof TEXT)[Lang];

/** A reason in words, with its code beside it for whoever searches the docs or the metrics. */
function reasonNode(lang: Lang, code: string): Node {
  const words = REASONS[code]?.[lang];
  const codeNode = h('code', {}, code);
  return words ? h('span', {}, `${words} (`, codeNode, ')') : codeNode;
}

function clockTime(lang: Lang, iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return new Intl.DateTimeFormat(lang === 'it' ? 'it-IT' : 'en-GB', { timeStyle: 'medium' }).format(d);
}

function fieldList(names: readonly Node[], emptyText: string): HTMLElement {
  return names.length === 0 ? h('p', {}, emptyText) : h('ul', { class: 'dbg-fields' }, ...names.map((n) => h('li', {}, n)));
}

/** One event: a summary line (time, type, name, outcome) that opens on what was stored and dropped, and why. */
function lineItem(line: Line, lang: Lang, t: T): HTMLLIElement {
  const outcome = OUTCOMES[line.outcome]?.[lang] ?? line.outcome;
  const summary = h(
    'summary',
    {},
    h('time', { datetime: line.receivedAt }, clockTime(lang, line.receivedAt)),
    ' ',
    h('code', { class: 'dbg-type' }, line.type),
    ' ',
    h('span', { class: 'dbg-event' }, line.event ?? t.noEvent),
    ' ',
    h('span', { class: `badge dbg-${line.outcome === 'stored' ? 'ok' : line.outcome === 'dropped' ? 'dropped' : 'dup'}` }, outcome),
  );
  if (line.dropped.length > 0) summary.append(' ', h('span', { class: 'dbg-count' }, t.droppedCount(line.dropped.length)));
  const pairs: [string, Node | string][] = [
    [t.received, dateTime(lang, line.receivedAt) + ` (${clockTime(lang, line.receivedAt)})`],
    [t.type, h('code', {}, line.type)],
    [t.messageId, h('code', {}, line.messageId)],
    [t.userId, h('span', {}, `${USER_ID[line.identity.userId]?.[lang] ?? line.identity.userId} (`, h('code', {}, line.identity.userId), ')')],
    [t.anonymousId, line.identity.anonymousId ? t.present : t.absent],
  ];
  if (line.reason) pairs.push([t.whyDropped, reasonNode(lang, line.reason)]);
  const stored = line.stored.map((n) => h('code', {}, n));
  const dropped = line.dropped.map((d) => h('span', {}, h('code', {}, d.field), ' — ', reasonNode(lang, d.reason)));
  const body = h(
    'div',
    { class: 'dbg-body' },
    facts(pairs),
    h('h3', {}, t.dropped(line.dropped.length)),
    fieldList(dropped, t.none),
    h('h3', {}, t.stored(line.stored.length)),
    fieldList(stored, t.none),
  );
  if (line.omitted > 0) body.append(h('p', { class: 'hint' }, t.omitted(line.omitted)));
  return h('li', { 'data-id': line.id }, h('details', {}, summary, body));
}

/** Puts new lines (newest first) on top of the list and drops the oldest past MAX_ROWS; returns how many came. */
function addLines(list: HTMLElement, empty: HTMLElement, entries: readonly Line[], lang: Lang, t: T): number {
  if (entries.length === 0) return 0;
  list.prepend(...entries.slice(0, MAX_ROWS).map((e) => lineItem(e, lang, t)));
  while (list.children.length > MAX_ROWS) list.lastElementChild?.remove();
  empty.hidden = true;
  return entries.length;
}

/** The events card: heading, state line with the Pause button, the polite "n new events" line, the list. */
function eventsCard(t: T, name: string) {
  const heading = h('h2', {}, t.eventsOf(name));
  const state = h('p', { class: 'dbg-state' }, t.watching);
  const news = h('p', { class: 'dbg-news', role: 'status', 'aria-live': 'polite' });
  const pause = button(t.pause, { class: 'dbg-pause' });
  const empty = h('p', { class: 'dbg-empty' }, t.empty);
  const list = h('ol', { class: 'dbg-list', 'aria-label': t.listLabel });
  const card = h('section', { class: 'card dbg-events' }, heading, h('div', { class: 'dbg-bar' }, state, pause), news, h('p', { class: 'hint' }, t.bounded(MAX_ROWS)), empty, list);
  return { card, heading, state, news, pause, empty, list };
}

/** Polls one source and fills `box`; stops on the page's signal or when `stop` aborts (another source chosen). */
function watch(ctx: PageContext, sourceId: string, name: string, box: HTMLElement, stop: AbortSignal): void {
  const t = TEXT[ctx.lang];
  const { card, heading, state, news, pause, empty, list } = eventsCard(t, name);
  box.replaceChildren(card);

  let cursor: string | null = null;
  let paused = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let inFlight = false;
  let pending = 0;
  let lastSaid = 0;
  let failed = false;
  const stopped = () => stop.aborted || ctx.signal.aborted;

  const say = () => {
    if (pending === 0 || Date.now() - lastSaid < ANNOUNCE_MS) return;
    news.textContent = t.newEvents(pending);
    pending = 0;
    lastSaid = Date.now();
  };
  const showState = () => {
    state.textContent = stopped() ? t.stopped : paused ? t.paused : document.hidden ? t.hidden : t.watching;
    pause.textContent = paused ? t.resume : t.pause;
  };
  const schedule = (delay = POLL_MS) => {
    showState();
    if (stopped() || paused || document.hidden || inFlight || timer !== undefined) return;
    timer = setTimeout(() => void tick(), delay);
  };
  const tick = async () => {
    timer = undefined;
    if (stopped() || paused || document.hidden) return showState();
    inFlight = true;
    try {
      const first = cursor === null;
      const answer = await ctx.api.get<DebuggerAnswer>(`/api/v1/sources/${encodeURIComponent(sourceId)}/debugger`, { since: cursor ?? undefined, limit: MAX_ROWS });
      if (stopped()) return;
      heading.textContent = t.eventsOf(answer.source.name);
      const added = addLines(list, empty, answer.entries, ctx.lang, t);
      if (!first) pending += added;
      cursor = answer.cursor ?? cursor;
      failed = false;
      say();
    } catch (err) {
      if (stopped()) return;
      const fatal = err instanceof ApiError && [401, 403, 404].includes(err.status);
      // A network blip is said once, then the polling goes on; an unknown source or a refusal stops it.
      if (fatal || !failed) ctx.announce(errorText(err, ctx.lang), 'error');
      failed = true;
      if (fatal) {
        state.textContent = errorText(err, ctx.lang);
        pause.disabled = true;
        return;
      }
    } finally {
      inFlight = false;
    }
    schedule();
  };
  const onVisibility = () => (document.hidden ? showState() : schedule(0));
  document.addEventListener('visibilitychange', onVisibility);
  const end = () => {
    clearTimeout(timer);
    document.removeEventListener('visibilitychange', onVisibility);
  };
  stop.addEventListener('abort', end, { once: true });
  ctx.signal.addEventListener('abort', end, { once: true });
  pause.addEventListener('click', () => {
    paused = !paused;
    if (paused) {
      clearTimeout(timer);
      timer = undefined;
    }
    schedule(0);
  });
  schedule(0);
}

/** The source chooser: a list for those who may list sources (admins), an id field for the others. */
async function chooser(ctx: PageContext, onChoose: (id: string, name: string) => void): Promise<HTMLElement> {
  const t = TEXT[ctx.lang];
  const wanted = ctx.params.get('source') ?? '';
  let sources: Source[] | null = null;
  try {
    sources = (await ctx.api.get<{ sources: Source[] }>('/api/v1/sources')).sources;
  } catch (err) {
    if (!(err instanceof ApiError && err.status === 403)) throw err;
  }
  const report = (err: unknown) => ctx.announce(errorText(err, ctx.lang), 'error');
  if (sources === null) {
    const idInput = input('source', { required: '', maxlength: '64', value: wanted, autocomplete: 'off', spellcheck: 'false' });
    const f = form(t.chooseTitle, [field(t.sourceId, idInput, t.sourceIdHint), h('button', { type: 'submit', class: 'primary' }, t.watch)], async (data) => onChoose(String(data.get('source')).trim(), String(data.get('source')).trim()), report);
    if (wanted) onChoose(wanted, wanted);
    return section(t.chooseTitle, f);
  }
  if (sources.length === 0) return section(t.chooseTitle, h('p', {}, t.noSources));
  const label = (s: Source) => `${s.name} (${t.kinds[s.kind] ?? s.kind}${s.revokedAt ? `, ${t.revoked}` : ''})`;
  const initial = sources.find((s) => s.id === wanted) ?? sources.find((s) => s.revokedAt === null) ?? sources[0]!;
  const pick = select('source', sources.map((s) => [s.id, label(s)] as const), initial.id);
  const nameOf = (id: string) => sources?.find((s) => s.id === id)?.name ?? id;
  const f = form(t.chooseTitle, [field(t.source, pick), h('button', { type: 'submit', class: 'primary' }, t.watch)], async (data) => onChoose(String(data.get('source')), nameOf(String(data.get('source')))), report);
  onChoose(initial.id, initial.name);
  return section(t.chooseTitle, f);
}

export const debuggerPage: ConsolePage = {
  id: 'debugger',
  title: { en: 'Live debugger', it: 'Debugger in tempo reale' },
  // The debugger route admits admin, dpo and analyst; listing sources is for admins (the others type an id).
  roles: ['admin', 'dpo', 'analyst'],
  async render(main, ctx) {
    const t = TEXT[ctx.lang];
    const box = h('div', { class: 'dbg-box' });
    let current: AbortController | undefined;
    const onChoose = (id: string, name: string) => {
      if (!id) return;
      current?.abort();
      current = new AbortController();
      ctx.setParams({ source: id });
      watch(ctx, id, name, box, current.signal);
    };
    main.append(h('p', {}, t.intro));
    const chooseCard = h('div', {});
    main.append(chooseCard, box);
    chooseCard.replaceWith(await chooser(ctx, onChoose));
  },
};
