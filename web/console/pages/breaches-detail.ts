// One breach of the register: its facts and clock, the authority's notification (with the reasons for a delay), status
// changes, the two documents in Italian and English, sending the notice to the people concerned, and the history.
import type { Lang } from '../../shared/dom.ts';
import type { PageContext } from '../page.ts';
import { button, dateTime, errorText, facts, field, form, h, input, number, sectionWith, select, table } from '../ui.ts';
import { categoryName, Clocks, instantFrom, localizedFrom, pick, skewFrom, twoLanguages, type BreachView, type CategoryNames, type Reason, type Status } from './breaches-parts.ts';
import { TEXT, type BreachWords } from './breaches-text.ts';

/** A section of this page (its own class, for the page's stylesheet). */
const card = sectionWith('breach-card');

interface DocSection {
  heading: string;
  lines: string[];
  list?: string[];
}
interface BreachDocument {
  kind: 'authority' | 'subjects';
  lang: Lang;
  title: string;
  intro: string[];
  sections: DocSection[];
}

/** Where a status may be moved by hand (the authority's notification has its own form). */
const NEXT: Record<Status, readonly Status[]> = {
  open: ['not_required'],
  notified_authority: ['subjects_notified', 'not_required', 'closed'],
  subjects_notified: ['closed'],
  not_required: ['closed'],
  closed: [],
};
const ART_34_REASONS: readonly Reason[] = ['no_high_risk', 'encrypted', 'subsequent_measures', 'public_communication'];

interface Detail {
  ctx: PageContext;
  T: BreachWords;
  b: BreachView;
  names: CategoryNames;
  /** Reads the breach again and shows it afresh (after a change). */
  refresh(): Promise<void>;
}

function fieldLabel(name: string, T: BreachWords): string {
  const labels: Record<string, string> = {
    nature: T.nature,
    description: T.description,
    categories: T.categories,
    approxSubjects: T.approxSubjects,
    approxRecords: T.approxRecords,
    consequences: T.consequences,
    measuresTaken: T.measuresTaken,
    measuresProposed: T.measuresProposed,
    adviceToSubjects: T.advice,
    encryption: T.encryption,
    contact: T.contact,
    awareAt: T.awareAtField,
    occurredAt: T.occurredAt,
    status: T.status,
    authority_notified_at: T.notifiedAt,
    authority_reference: T.reference,
    delay_reason: T.delayReason,
    not_required_reason: T.notRequiredReason,
    closed_at: T.statuses.closed,
    subjects: T.subjects,
  };
  return labels[name] ?? name;
}

function factsSection(d: Detail, clocks: Clocks): HTMLElement {
  const { b, T, ctx, names } = d;
  const lang = ctx.lang;
  const count = (n: number | null) => (n === null ? null : number(lang, n));
  const missing = b.missing.map((m) => (T.missingItems as Record<string, string>)[m] ?? m).join(', ');
  return card(
    pick(b.description, lang, T) ?? T.facts,
    facts([
      [T.status, T.statuses[b.status]],
      [T.nature, b.nature.map((n) => T.natureShort[n]).join(', ')],
      [T.awareAt, dateTime(lang, b.awareAt)],
      [T.occurredAt, dateTime(lang, b.occurredAt)],
      [T.deadline, dateTime(lang, b.clock.deadline)],
      [T.clock, clocks.badge(b)],
      [T.categories, b.categories.map((k) => categoryName(names, k, lang)).join(', ') || null],
      [T.approxSubjects, count(b.approxSubjects)],
      [T.approxRecords, count(b.approxRecords)],
      [T.consequences, pick(b.consequences, lang, T)],
      [T.measuresTaken, pick(b.measuresTaken, lang, T)],
      [T.measuresProposed, pick(b.measuresProposed, lang, T)],
      [T.advice, pick(b.adviceToSubjects, lang, T)],
      [T.encryption, T.encryptions[b.encryption]],
      [T.exemption, T.exemptions[b.encryptionExemption]],
      [T.contact, `${b.contact.name} <${b.contact.email}>${b.contact.phone ? `, ${b.contact.phone}` : ''}`],
      [T.missing, missing || null],
      [T.notRequiredReason, b.notRequiredReason ? T.reasons[b.notRequiredReason] : null],
    ]),
  );
}

function authoritySection(d: Detail): HTMLElement {
  const { b, T, ctx } = d;
  const a = b.authority;
  const shown = facts([
    [T.notifiedAt, dateTime(ctx.lang, a.notifiedAt)],
    [T.reference, a.reference],
    [T.delayReason, pick(a.delayReason, ctx.lang, T)],
  ]);
  const canNotify = b.status === 'open' || b.status === 'notified_authority' || b.status === 'subjects_notified';
  if (!canNotify) return card(T.authority, shown);
  const initial = b.status === 'open';
  const f = form(
    initial ? T.notify : T.further,
    [
      field(T.notifyAt, input('at', { type: 'datetime-local' })),
      field(T.referenceField, input('reference', { maxlength: '200' })),
      twoLanguages('delayReason', T.delayField, ctx.lang, T, T.delayHint),
      field(T.noteField, input('note', { maxlength: '2000' })),
      h('button', { type: 'submit', class: 'primary' }, initial ? T.notifyButton : T.further),
    ],
    async (data) => {
      const body: Record<string, unknown> = {};
      const at = instantFrom(data.get('at'));
      if (at) body.at = at;
      const reference = String(data.get('reference') ?? '').trim();
      if (reference) body.reference = reference;
      const delayReason = localizedFrom(data, 'delayReason');
      if (delayReason) body.delayReason = delayReason;
      const note = String(data.get('note') ?? '').trim();
      if (note) body.note = note;
      await ctx.api.send('POST', `/api/v1/breaches/${encodeURIComponent(b.id)}/authority-notification`, body);
      ctx.announce(T.notified);
      await d.refresh();
    },
    (err) => ctx.announce(errorText(err, ctx.lang), 'error'),
  );
  f.classList.add('breach-form');
  return card(T.authority, shown, h('h3', {}, initial ? T.notify : T.further), h('p', {}, T.notifyIntro), f);
}

function statusSection(d: Detail): HTMLElement | null {
  const { b, T, ctx } = d;
  const next = NEXT[b.status];
  if (next.length === 0) return null;
  const reasons: readonly Reason[] = b.status === 'open' ? ['no_risk'] : ART_34_REASONS;
  const f = form(
    T.changeStatus,
    [
      field(T.newStatus, select('status', next.map((s) => [s, T.statuses[s]] as const))),
      field(T.reasonField, select('reason', [['', T.noReason] as const, ...reasons.map((r) => [r, T.reasons[r]] as const)])),
      field(T.noteField, input('note', { maxlength: '2000' })),
      h('button', { type: 'submit' }, T.statusButton),
    ],
    async (data) => {
      const body: Record<string, unknown> = { status: String(data.get('status')) };
      const reason = String(data.get('reason') ?? '');
      if (reason && body.status === 'not_required') body.reason = reason;
      const note = String(data.get('note') ?? '').trim();
      if (note) body.note = note;
      await ctx.api.send('POST', `/api/v1/breaches/${encodeURIComponent(b.id)}/status`, body);
      ctx.announce(T.statusChanged);
      await d.refresh();
    },
    (err) => ctx.announce(errorText(err, ctx.lang), 'error'),
  );
  return card(T.changeStatus, f);
}

function documentView(doc: BreachDocument, links: HTMLElement): HTMLElement {
  const title = h('h3', { tabindex: '-1' }, doc.title);
  const parts: Node[] = [title, ...doc.intro.map((p) => h('p', {}, p))];
  for (const s of doc.sections) {
    parts.push(h('h4', {}, s.heading), ...s.lines.map((l) => h('p', {}, l)));
    if (s.list && s.list.length > 0) parts.push(h('ul', {}, ...s.list.map((x) => h('li', {}, x))));
  }
  parts.push(links);
  return h('article', { class: 'breach-doc', lang: doc.lang }, ...parts);
}

function documentsSection(d: Detail): HTMLElement {
  const { b, T, ctx } = d;
  const shown = h('div', { class: 'breach-doc-slot' });
  const kinds = [
    ['notification', T.authorityDoc],
    ['subject-notice', T.subjectDoc],
  ] as const;
  const buttons = kinds.flatMap(([path, name]) =>
    (['it', 'en'] as const).map((l) => {
      const btn = button(T.show(name, T.langNames[l]), { 'data-doc': `${path}-${l}` });
      btn.addEventListener('click', () => {
        const url = `/api/v1/breaches/${encodeURIComponent(b.id)}/${path}`;
        ctx.api
          .get<BreachDocument>(url, { lang: l, format: 'json' })
          .then((doc) => {
            const links = h(
              'p',
              { class: 'breach-doc-links', lang: ctx.lang },
              h('a', { href: ctx.api.url(url, { lang: l, format: 'html' }), target: '_blank', rel: 'noopener' }, T.asHtml),
              ' · ',
              h('a', { href: ctx.api.url(url, { lang: l, format: 'text' }), target: '_blank', rel: 'noopener' }, T.asText),
            );
            const view = documentView(doc, links);
            shown.replaceChildren(view);
            (view.querySelector('h3') as HTMLElement).focus();
          })
          .catch((err: unknown) => ctx.announce(errorText(err, ctx.lang), 'error'));
      });
      return btn;
    }),
  );
  return card(T.documents, h('p', {}, T.documentsIntro), h('div', { class: 'breach-buttons' }, ...buttons), shown);
}

function sendSection(d: Detail): HTMLElement | null {
  const { b, T, ctx } = d;
  const may = b.status === 'notified_authority' || b.status === 'subjects_notified' || (b.status === 'not_required' && b.authority.notifiedAt !== null);
  if (!may) return null;
  const langSelect = select('lang', [['it', T.langNames.it] as const, ['en', T.langNames.en] as const], ctx.lang);
  const ask = button(T.sendAsk);
  const question = h('p', { tabindex: '-1' }, T.sendConfirm(number(ctx.lang, b.subjects.named)));
  const yes = button(T.sendYes, { class: 'primary' });
  const no = button(T.cancel);
  const confirm = h('div', { class: 'breach-confirm', hidden: '' }, question, h('div', { class: 'breach-buttons' }, yes, no));
  ask.addEventListener('click', () => {
    confirm.hidden = false;
    question.focus();
  });
  no.addEventListener('click', () => {
    confirm.hidden = true;
    ask.focus();
  });
  yes.addEventListener('click', () => {
    yes.disabled = true;
    ctx.api
      .send<{ sent: number; noEmail: number; erased: number; failed: number }>('POST', `/api/v1/breaches/${encodeURIComponent(b.id)}/subject-notice/send`, { lang: langSelect.value })
      .then(async (r) => {
        ctx.announce(T.sent(r.sent, r.noEmail, r.erased, r.failed));
        await d.refresh();
      })
      .catch((err: unknown) => ctx.announce(errorText(err, ctx.lang), 'error'))
      .finally(() => (yes.disabled = false));
  });
  return card(T.send, h('p', {}, T.sendIntro), h('div', { class: 'breach-row' }, field(T.sendLang, langSelect), ask), confirm);
}

function historySection(d: Detail): HTMLElement {
  const { b, T, ctx } = d;
  const rows = (b.history ?? []).map((e) => [
    dateTime(ctx.lang, e.at),
    e.actor === `user:${ctx.user.id}` ? ctx.user.username : e.actor,
    T.actions[e.action] ?? e.action,
    T.statuses[e.status] ?? e.status,
    e.fields.map((f) => fieldLabel(f, T)).join(', ') || null,
    e.note,
  ]);
  return card(T.history, table(T.historyCaption, [T.when, T.who, T.what, T.status, T.fieldsChanged, T.note], rows));
}

/** Shows one breach in `main` (below its <h1>). */
export async function renderBreach(main: HTMLElement, ctx: PageContext, id: string, names: CategoryNames): Promise<void> {
  const T = TEXT[ctx.lang];
  const b = await ctx.api.get<BreachView>(`/api/v1/breaches/${encodeURIComponent(id)}`);
  if (ctx.signal.aborted) return;
  // Each showing has its own clocks, stopped when it is replaced or the page is left.
  const shown = new AbortController();
  ctx.signal.addEventListener('abort', () => shown.abort(), { once: true });
  const clocks = new Clocks(T, skewFrom(undefined, b));
  const heading = main.querySelector('h1');
  const detail: Detail = {
    ctx,
    T,
    b,
    names,
    async refresh() {
      shown.abort();
      main.replaceChildren(...(heading ? [heading] : []));
      await renderBreach(main, ctx, id, names).catch((err: unknown) => ctx.announce(errorText(err, ctx.lang), 'error'));
      heading?.focus();
    },
  };
  const parts = [
    h('p', {}, h('a', { href: '#/breaches' }, T.back)),
    factsSection(detail, clocks),
    b.status === 'closed' ? h('p', { class: 'hint' }, T.closedNote) : null,
    authoritySection(detail),
    statusSection(detail),
    documentsSection(detail),
    sendSection(detail),
    historySection(detail),
  ];
  main.append(...parts.filter((p): p is HTMLElement => p !== null));
  clocks.start(shown.signal);
}
