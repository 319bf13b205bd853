// The breach register (GDPR Arts. 33–34): the list with each breach's 72-hour clock, recording a new breach, and one
// breach with its history, status, documents and notice (breaches-detail.ts). Through /api/v1/breaches only.
import type { Lang } from '../../shared/dom.ts';
import type { ConsolePage, PageContext } from '../page.ts';
import { dateTime, errorText, field, form, h, input, sectionWith, select, table } from '../ui.ts';
import { renderBreach } from './breaches-detail.ts';
import {
  categoryName,
  categoryNames,
  Clocks,
  instantFrom,
  localizedFrom,
  localNow,
  pick,
  skewFrom,
  twoLanguages,
  type BreachView,
  type CategoryNames,
  type Encryption,
  type Nature,
} from './breaches-parts.ts';
import { TEXT, type BreachWords } from './breaches-text.ts';

/** A section of this page (its own class, for the page's stylesheet). */
const card = sectionWith('breach-card');

const NATURES: readonly Nature[] = ['confidentiality', 'integrity', 'availability'];
const ENCRYPTIONS: readonly Encryption[] = ['unknown', 'keys_safe', 'keys_compromised', 'not_encrypted'];

function listSection(breaches: readonly BreachView[], clocks: Clocks, lang: Lang, T: BreachWords): HTMLElement {
  const rows = breaches.map((b) => {
    const title = pick(b.description, lang, T) ?? b.id;
    return [
      h('a', { href: `#/breaches?id=${encodeURIComponent(b.id)}` }, title),
      T.statuses[b.status],
      dateTime(lang, b.awareAt),
      dateTime(lang, b.clock.deadline),
      clocks.badge(b),
    ];
  });
  return card(T.register, h('p', {}, T.registerIntro), table(T.caption, [T.description, T.status, T.awareAt, T.deadline, T.clock], rows, T.noBreaches));
}

function checkboxes(name: string, legend: string, options: readonly (readonly [string, string])[], extraClass = ''): HTMLFieldSetElement {
  return h(
    'fieldset',
    { class: `breach-fieldset ${extraClass}`.trim() },
    h('legend', {}, legend),
    h(
      'div',
      { class: 'breach-checks' },
      ...options.map(([value, label]) => h('label', { class: 'check' }, h('input', { type: 'checkbox', name, value }), ` ${label}`)),
    ),
  );
}

/** The body of POST /api/v1/breaches from the form; a message instead when something required is missing. */
function createBody(data: FormData, T: BreachWords): Record<string, unknown> | string {
  const nature = data.getAll('nature').map(String);
  if (nature.length === 0) return T.needNature;
  const description = localizedFrom(data, 'description');
  if (!description) return T.needDescription;
  const awareAt = instantFrom(data.get('awareAt'));
  if (!awareAt) return T.badTime;
  const body: Record<string, unknown> = { nature, description, awareAt, categories: data.getAll('categories').map(String), encryption: String(data.get('encryption')) };
  for (const name of ['approxSubjects', 'approxRecords']) {
    const v = String(data.get(name) ?? '').trim();
    if (v !== '') body[name] = Number(v);
  }
  for (const name of ['consequences', 'measuresTaken', 'measuresProposed', 'adviceToSubjects']) {
    const v = localizedFrom(data, name);
    if (v) body[name] = v;
  }
  const occurredAt = instantFrom(data.get('occurredAt'));
  if (occurredAt) body.occurredAt = occurredAt;
  return body;
}

function createSection(ctx: PageContext, names: CategoryNames, T: BreachWords): HTMLElement {
  const lang = ctx.lang;
  const count = (name: string, label: string) => field(label, input(name, { type: 'number', min: '0', max: '10000000000', step: '1', inputmode: 'numeric' }), T.unknownHint);
  const categories = [...names.keys()].map((k) => [k, categoryName(names, k, lang)] as const).sort((a, b) => a[1].localeCompare(b[1], lang));
  const children: Node[] = [
    checkboxes('nature', T.nature, NATURES.map((n) => [n, T.natures[n]] as const)),
    twoLanguages('description', T.description, lang, T, T.descriptionHint),
    checkboxes('categories', T.categories, categories, 'breach-categories'),
    h('div', { class: 'breach-row' }, count('approxSubjects', T.approxSubjects), count('approxRecords', T.approxRecords)),
    twoLanguages('consequences', T.consequences, lang, T),
    twoLanguages('measuresTaken', T.measuresTaken, lang, T),
    twoLanguages('measuresProposed', T.measuresProposed, lang, T),
    twoLanguages('adviceToSubjects', T.advice, lang, T),
    h(
      'div',
      { class: 'breach-row' },
      field(T.encryption, select('encryption', ENCRYPTIONS.map((e) => [e, T.encryptions[e]] as const), 'unknown'), T.encryptionHint),
      field(T.awareAtField, input('awareAt', { type: 'datetime-local', required: '', value: localNow() }), T.awareHint),
      field(T.occurredAt, input('occurredAt', { type: 'datetime-local' })),
    ),
    h('button', { type: 'submit', class: 'primary' }, T.recordButton),
  ];
  const f = form(
    T.record,
    children,
    async (data) => {
      const body = createBody(data, T);
      if (typeof body === 'string') {
        ctx.announce(body, 'error');
        return;
      }
      const created = await ctx.api.send<BreachView>('POST', '/api/v1/breaches', body);
      ctx.announce(T.recorded);
      location.hash = `#/breaches?id=${encodeURIComponent(created.id)}`;
    },
    (err) => ctx.announce(errorText(err, lang), 'error'),
  );
  f.classList.add('breach-form');
  return card(T.record, f);
}

async function render(main: HTMLElement, ctx: PageContext): Promise<void> {
  const T = TEXT[ctx.lang];
  const id = ctx.params.get('id');
  const names = await categoryNames((path) => ctx.api.get(path));
  if (id) {
    await renderBreach(main, ctx, id, names);
    return;
  }
  const list = await ctx.api.get<{ now: string; breaches: BreachView[] }>('/api/v1/breaches', { limit: 200 });
  if (ctx.signal.aborted) return;
  const clocks = new Clocks(T, skewFrom(Date.parse(list.now)));
  main.append(listSection(list.breaches, clocks, ctx.lang, T), createSection(ctx, names, T));
  clocks.start(ctx.signal);
}

export const breachesPage: ConsolePage = {
  id: 'breaches',
  title: { en: 'Breaches', it: 'Violazioni' },
  // The breach routes answer admin and dpo only.
  roles: ['admin', 'dpo'],
  render,
};

