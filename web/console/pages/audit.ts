// The Audit log page: entries filtered by action, actor, purpose, subject and time, a page at a time; a full
// verification of the log, and the latest signed checkpoint with how to check it away from Fiducia.
import type { Lang } from '../../shared/dom.ts';
import type { ConsolePage, PageContext } from '../page.ts';
import { button, dateTime, errorText, facts, field, form, h, input, number, section, select, table } from '../ui.ts';

const TEXT = {
  en: {
    intro: 'Who did what, when, for which purpose: entries name fields and count things, never personal values. Searching the log is itself recorded.',
    filters: 'Filters',
    action: 'Action',
    actionHint: 'e.g. profile.read, rights.request.completed',
    actor: 'Actor',
    actorHint: 'a token id, or user:<id> for a console user',
    purpose: 'Purpose',
    any: 'Any',
    subject: 'Person',
    subjectHint: 'pseudonymous id, or userId:…, email:… (not kept in the address bar)',
    from: 'From',
    to: 'To',
    search: 'Search',
    entries: 'Entries',
    older: 'Older entries',
    index: 'No.',
    at: 'Time',
    subjectCol: 'Pseudonymous id',
    fields: 'Fields',
    counts: 'Counts',
    outcome: 'Outcome',
    outcomes: { ok: 'ok', failed: 'failed', denied: 'denied' } as Record<string, string>,
    details: 'Details',
    none: 'No entries match.',
    shown: (n: number) => `${n} entries shown.`,
    verify: 'Verify the log',
    verifyIntro: 'Recomputes every entry’s hash and the Merkle tree, and checks the stored signed checkpoints against it.',
    verifyButton: 'Verify',
    verifying: 'Verifying…',
    result: 'Result',
    intact: 'The log is intact.',
    broken: (n: number | undefined) => (n === undefined ? 'The log does NOT verify.' : `The log does NOT verify: the first bad entry is no. ${n}.`),
    checked: 'Entries checked',
    head: 'Size and root recorded',
    computed: 'Root recomputed',
    checkpointsChecked: 'Signed checkpoints checked',
    checkpointsOk: (ok: number, all: number) => `${ok} of ${all} match`,
    problems: 'Problems found',
    code: 'Code',
    message: 'Message',
    entry: 'Entry',
    checkpoint: 'Latest signed checkpoint',
    origin: 'Log name (origin)',
    treeSize: 'Tree size (entries)',
    rootHash: 'Root hash',
    signedAt: 'Signed at',
    keyId: 'Key id',
    signature: 'Signature',
    publicKey: 'Public key (Ed25519)',
    note: 'Signed note',
    saveNote: 'Download the signed note',
    offline: 'Checking it away from Fiducia',
    steps: [
      'Save the signed note as a file (checkpoint.txt) somewhere the shop cannot change it.',
      'Check the signature with nothing but Node:',
      'Later, check that the log still contains what this checkpoint committed to:',
    ],
    seeDocs: 'The transparency documentation (docs/transparency.md) explains each step.',
  },
  it: {
    intro: 'Chi ha fatto cosa, quando, per quale finalità: le voci nominano campi e contano elementi, mai valori personali. Anche la ricerca nel registro viene registrata.',
    filters: 'Filtri',
    action: 'Azione',
    actionHint: 'ad es. profile.read, rights.request.completed',
    actor: 'Autore',
    actorHint: 'un id di token, oppure user:<id> per un utente della console',
    purpose: 'Finalità',
    any: 'Qualsiasi',
    subject: 'Persona',
    subjectHint: 'id pseudonimo, oppure userId:…, email:… (non resta nella barra degli indirizzi)',
    from: 'Dal',
    to: 'Al',
    search: 'Cerca',
    entries: 'Voci',
    older: 'Voci precedenti',
    index: 'N.',
    at: 'Ora',
    subjectCol: 'Id pseudonimo',
    fields: 'Campi',
    counts: 'Conteggi',
    outcome: 'Esito',
    outcomes: { ok: 'ok', failed: 'non riuscito', denied: 'negato' } as Record<string, string>,
    details: 'Dettagli',
    none: 'Nessuna voce corrisponde.',
    shown: (n: number) => `${n} voci mostrate.`,
    verify: 'Verificare il registro',
    verifyIntro: "Ricalcola l'hash di ogni voce e l'albero di Merkle, e controlla su di esso i checkpoint firmati conservati.",
    verifyButton: 'Verifica',
    verifying: 'Verifica in corso…',
    result: 'Risultato',
    intact: 'Il registro è integro.',
    broken: (n: number | undefined) => (n === undefined ? 'Il registro NON supera la verifica.' : `Il registro NON supera la verifica: la prima voce errata è la n. ${n}.`),
    checked: 'Voci controllate',
    head: 'Dimensione e radice registrate',
    computed: 'Radice ricalcolata',
    checkpointsChecked: 'Checkpoint firmati controllati',
    checkpointsOk: (ok: number, all: number) => `${ok} su ${all} corrispondono`,
    problems: 'Problemi trovati',
    code: 'Codice',
    message: 'Messaggio',
    entry: 'Voce',
    checkpoint: 'Ultimo checkpoint firmato',
    origin: 'Nome del registro (origin)',
    treeSize: "Dimensione dell'albero (voci)",
    rootHash: 'Hash radice',
    signedAt: 'Firmato il',
    keyId: 'Id della chiave',
    signature: 'Firma',
    publicKey: 'Chiave pubblica (Ed25519)',
    note: 'Nota firmata',
    saveNote: 'Scarica la nota firmata',
    offline: 'Verificarlo fuori da Fiducia',
    steps: [
      'Salvare la nota firmata in un file (checkpoint.txt) in un luogo che il negozio non può modificare.',
      'Controllare la firma con il solo Node:',
      'In seguito, controllare che il registro contenga ancora ciò che questo checkpoint ha fissato:',
    ],
    seeDocs: 'La documentazione sulla trasparenza (docs/transparency.md) spiega ogni passo.',
  },
} satisfies Record<Lang, unknown>;

type Words = (typeof TEXT)[Lang];

interface Entry {
  index: number;
  at: string;
  actor: string;
  action: string;
  purpose: string | null;
  subjectId: string | null;
  fields: string[];
  counts: Record<string, number>;
  outcome: string;
  details: Record<string, string | number | boolean | null>;
}
interface VerifyReport {
  ok: boolean;
  entries: number;
  head: { size: number; rootHash: string };
  computedRoot: string;
  firstBadEntry?: number;
  problems: { code: string; message: string; index?: number }[];
  checkpoints: { ok: boolean }[];
}
interface Checkpoint {
  origin: string;
  treeSize: number;
  rootHash: string;
  timestamp: string;
  keyId: string;
  note: string;
}

const code = (s: string) => h('code', {}, s);
const pairs = (o: Record<string, unknown>) => (Object.keys(o).length === 0 ? null : Object.entries(o).map(([k, v]) => `${k}: ${typeof v === 'string' ? v : JSON.stringify(v)}`).join(', '));

/** A `datetime-local` value (the browser's zone) as an ISO instant, or undefined when empty. */
function instant(v: FormDataEntryValue | null): string | undefined {
  const s = String(v ?? '');
  if (!s) return undefined;
  const d = new Date(s);
  return Number.isNaN(d.getTime()) ? undefined : d.toISOString();
}

/** The signature of a C2SP signed note: the last field of its first signature line. */
export function noteSignature(note: string): string | null {
  const split = note.indexOf('\n\n');
  if (split < 0) return null;
  const line = note.slice(split + 2).split('\n').find((l) => l.startsWith('\u2014 '));
  return line?.split(' ')[2] ?? null;
}

/** Entries: the filter form, the table, and a button for the page before. */
function entriesView(ctx: PageContext, T: Words, purposes: ReadonlyMap<string, string>): HTMLElement {
  const box = h('div', { class: 'audit-entries' });
  const older = button(T.older, { hidden: '' });
  let query: Record<string, string | undefined> = {};
  let next: number | null = null;
  let rows: Entry[] = [];
  const draw = () => {
    const cells = rows.map((e) => [
      e.index,
      dateTime(ctx.lang, e.at),
      code(e.actor),
      code(e.action),
      e.purpose ? (purposes.get(e.purpose) ?? e.purpose) : null,
      e.subjectId ? code(e.subjectId) : null,
      e.fields.length === 0 ? null : e.fields.join(', '),
      pairs(e.counts),
      T.outcomes[e.outcome] ?? e.outcome,
      pairs(e.details),
    ]);
    box.replaceChildren(table(T.entries, [T.index, T.at, T.actor, T.action, T.purpose, T.subjectCol, T.fields, T.counts, T.outcome, T.details], cells, T.none));
  };
  const load = async (more: boolean) => {
    const page = await ctx.api.get<{ entries: Entry[]; next: number | null }>('/api/v1/audit', { ...query, limit: 100, before: more && next !== null ? next : undefined });
    rows = more ? [...rows, ...page.entries] : page.entries;
    next = page.next;
    older.hidden = next === null;
    draw();
    ctx.announce(T.shown(rows.length));
  };
  older.addEventListener('click', () => void load(true).catch((err: unknown) => ctx.announce(errorText(err, ctx.lang), 'error')));
  const purposeSelect = select('purpose', [['', T.any], ...purposes], ctx.params.get('purpose') ?? '');
  const filters = form(
    T.filters,
    [
      field(T.action, input('action', { maxlength: '100', value: ctx.params.get('action') ?? '' }), T.actionHint),
      field(T.actor, input('actor', { maxlength: '200', value: ctx.params.get('actor') ?? '' }), T.actorHint),
      field(T.purpose, purposeSelect),
      field(T.subject, input('subject', { maxlength: '600', autocomplete: 'off', spellcheck: 'false' }), T.subjectHint),
      field(T.from, input('from', { type: 'datetime-local' })),
      field(T.to, input('to', { type: 'datetime-local' })),
      h('button', { type: 'submit', class: 'primary' }, T.search),
    ],
    async (data) => {
      const text = (k: string) => String(data.get(k) ?? '').trim() || undefined;
      const shared = { action: text('action'), actor: text('actor'), purpose: text('purpose') };
      query = { ...shared, subject: text('subject'), from: instant(data.get('from')), to: instant(data.get('to')) };
      // The person searched for stays out of the address; the rest may be bookmarked.
      ctx.setParams(shared);
      await load(false);
    },
    (err) => ctx.announce(errorText(err, ctx.lang), 'error'),
  );
  query = { action: ctx.params.get('action') ?? undefined, actor: ctx.params.get('actor') ?? undefined, purpose: ctx.params.get('purpose') ?? undefined };
  const first = load(false).catch((err: unknown) => ctx.announce(errorText(err, ctx.lang), 'error'));
  void first;
  return section(T.entries, filters, box, older);
}

function reportView(T: Words, lang: Lang, r: VerifyReport): Node[] {
  const okCount = r.checkpoints.filter((c) => c.ok).length;
  const out: Node[] = [
    h('p', { class: r.ok ? 'ok verdict' : 'error verdict' }, r.ok ? T.intact : T.broken(r.firstBadEntry)),
    facts([
      [T.checked, number(lang, r.entries)],
      [T.head, h('span', {}, `${number(lang, r.head.size)} · `, code(r.head.rootHash))],
      [T.computed, code(r.computedRoot)],
      [T.checkpointsChecked, T.checkpointsOk(okCount, r.checkpoints.length)],
    ]),
  ];
  if (r.problems.length > 0) out.push(table(T.problems, [T.code, T.message, T.entry], r.problems.map((p) => [code(p.code), p.message, p.index ?? null])));
  return out;
}

function checkpointView(ctx: PageContext, T: Words, cp: Checkpoint, publicKey: string): Node[] {
  const sig = noteSignature(cp.note);
  const noteUrl = ctx.api.url('/api/v1/audit/checkpoint', { format: 'note' });
  return [
    h('h3', {}, T.checkpoint),
    facts([
      [T.origin, code(cp.origin)],
      [T.treeSize, number(ctx.lang, cp.treeSize)],
      [T.rootHash, code(cp.rootHash)],
      [T.signedAt, dateTime(ctx.lang, cp.timestamp)],
      [T.keyId, code(cp.keyId)],
      [T.signature, sig ? code(sig) : null],
      [T.publicKey, code(publicKey)],
    ]),
    h('h3', {}, T.note),
    h('pre', { class: 'note', tabindex: '0', role: 'region', 'aria-label': T.note }, cp.note),
    h('p', {}, h('a', { href: noteUrl, download: 'checkpoint.txt' }, T.saveNote)),
    h('h3', {}, T.offline),
    h(
      'ol',
      {},
      h('li', {}, T.steps[0] ?? ''),
      h('li', {}, T.steps[1] ?? '', h('pre', {}, `node scripts/verify-checkpoint.mjs checkpoint.txt ${publicKey}`)),
      h('li', {}, T.steps[2] ?? '', h('pre', {}, 'fiducia audit verify --checkpoint checkpoint.txt')),
    ),
    h('p', { class: 'hint' }, T.seeDocs),
  ];
}

function verifyView(ctx: PageContext, T: Words): HTMLElement {
  const out = h('div', { class: 'verify-result' });
  const run = button(T.verifyButton, { class: 'primary' });
  run.addEventListener('click', () => {
    run.disabled = true;
    out.replaceChildren(h('p', { class: 'loading' }, T.verifying));
    Promise.all([
      ctx.api.get<VerifyReport>('/api/v1/audit/verify'),
      ctx.api.get<Checkpoint>('/api/v1/audit/checkpoint'),
      ctx.api.get<{ publicKey: string }>('/api/v1/audit/key'),
    ])
      .then(([report, cp, key]) => {
        out.replaceChildren(h('h3', {}, T.result), ...reportView(T, ctx.lang, report), ...checkpointView(ctx, T, cp, key.publicKey));
        ctx.announce(report.ok ? T.intact : T.broken(report.firstBadEntry), report.ok ? 'ok' : 'error');
      })
      .catch((err: unknown) => {
        out.replaceChildren();
        ctx.announce(errorText(err, ctx.lang), 'error');
      })
      .finally(() => (run.disabled = false));
  });
  return section(T.verify, h('p', {}, T.verifyIntro), run, out);
}

export const auditPage: ConsolePage = {
  id: 'audit',
  title: { en: 'Audit log', it: 'Registro di audit' },
  // The audit API answers dpo and admin.
  roles: ['admin', 'dpo'],
  async render(main, ctx) {
    const T = TEXT[ctx.lang];
    const notice = await ctx.api.get<{ purposes: { key: string; name: string }[] }>('/api/v1/ropa/purposes', { lang: ctx.lang });
    const purposes = new Map(notice.purposes.map((p) => [p.key, p.name] as const));
    main.append(h('div', { class: 'page-audit' }, h('p', {}, T.intro), verifyView(ctx, T), entriesView(ctx, T, purposes)));
  },
};
