// The privacy center (/privacy): what is processed and why, the visitor's choices, and rights requests with e-mail verification.
import type { Choices } from '../globals.d.ts';
import { h, type Lang } from '../shared/dom.ts';
import { TEXT } from './text.ts';

type Localized = Record<Lang, string>;
interface Purpose {
  key: string;
  name: Localized;
  description: Localized;
  legalBasis: string;
  consentRequired: boolean;
  saleOrShare: boolean;
  categories: { key: string; name: Localized }[];
  retentionDays: number;
  /** `transfer`: a transfer outside the EEA, its country and basis in words. */
  recipients: { name: string; label?: Localized; kind: string; country: string; transfer?: Localized }[];
}
interface Config {
  noticeVersion: string;
  controller: { name: string; contact: string; dpo?: string; country: string };
  purposes: Purpose[];
}

const lang: Lang = document.documentElement.lang === 'it' ? 'it' : 'en';
const T = TEXT[lang];
const writeKey = document.querySelector<HTMLScriptElement>('script[data-write-key]')?.dataset.writeKey ?? '';
const gpc = navigator.globalPrivacyControl === true;
const regions = new Intl.DisplayNames([lang], { type: 'region', fallback: 'code' });

/** "Germania" for `DE`; the code itself when the browser does not know it. */
function country(code: string): string {
  try {
    return regions.of(code) ?? code;
  } catch {
    return code;
  }
}

function retention(days: number): string {
  const months = Math.round(days / 30.44);
  const years = days / 365;
  if (days >= 730 && Number.isInteger(Math.round(years * 10) / 10)) return T.years(Math.round(years), days);
  return months >= 2 ? T.months(months, days) : T.days(days);
}

function header(cfg: Config): HTMLElement {
  const other: Lang = lang === 'it' ? 'en' : 'it';
  return h(
    'header',
    {},
    h('p', {}, h('strong', {}, cfg.controller.name)),
    h(
      'nav',
      { class: 'langs', 'aria-label': T.language },
      h('a', { href: `?lang=${lang}`, 'aria-current': 'page', lang }, T.langName[lang]),
      ' · ',
      h('a', { href: `?lang=${other}`, lang: other, hreflang: other }, T.langName[other]),
    ),
  );
}

function purposeCard(p: Purpose): HTMLElement {
  const recipients = p.recipients.length
    ? h(
        'ul',
        { class: 'plain' },
        ...p.recipients.map((r) => h('li', {}, `${r.label?.[lang] ?? r.name} — ${T.kind[r.kind] ?? r.kind}, ${country(r.country)}${r.transfer ? `. ${T.transfer}: ${r.transfer[lang]}` : ''}`)),
      )
    : T.noRecipients;
  return h(
    'section',
    { class: 'card', 'aria-labelledby': `purpose-${p.key}` },
    h('h3', { id: `purpose-${p.key}` }, p.name[lang]),
    h('p', {}, p.description[lang]),
    h(
      'dl',
      {},
      h('dt', {}, T.basis),
      h('dd', {}, `${T.bases[p.legalBasis] ?? p.legalBasis}${p.consentRequired ? ` — ${T.consentNeeded}` : ''}${p.saleOrShare ? ` ${T.saleOrShare}` : ''}`),
      h('dt', {}, T.categories),
      h('dd', {}, h('ul', { class: 'plain' }, ...p.categories.map((c) => h('li', {}, c.name[lang])))),
      h('dt', {}, T.retention),
      h('dd', {}, retention(p.retentionDays)),
      h('dt', {}, T.recipients),
      h('dd', {}, recipients),
    ),
  );
}

/** The visitor's choices, read and changed through the widget's API (so the banner, this page and the server agree). */
function choicesSection(cfg: Config): HTMLElement {
  const asked = cfg.purposes.filter((p) => p.consentRequired);
  const status = h('p', { class: 'status', role: 'status' });
  const receipt = h('p', { class: 'note' });
  const boxes = new Map<string, HTMLInputElement>();
  const list = h(
    'ul',
    { class: 'choices' },
    ...asked.map((p) => {
      const off = gpc && p.saleOrShare;
      const box = h('input', { type: 'checkbox', role: 'switch', id: `choice-${p.key}`, 'aria-describedby': `choice-${p.key}-note`, ...(off ? { disabled: '' } : {}) });
      boxes.set(p.key, box);
      return h('li', {}, h('label', {}, box, p.name[lang]), h('p', { class: 'note', id: `choice-${p.key}-note` }, off ? `${p.description[lang]} ${T.gpcOff}` : p.description[lang]));
    }),
  );
  const save = h('button', { type: 'submit' }, T.save);
  const form = h('form', { 'aria-labelledby': 'choices-title' }, list, save);
  const api = window.fiducia;
  const showReceipt = () => {
    const id = api?.receipt();
    receipt.replaceChildren(...(id ? [`${T.receipt}: `, h('a', { href: `v1/consent/receipt/${id}` }, id)] : []));
  };
  if (!api) {
    save.disabled = true;
    status.textContent = T.widgetMissing;
  } else {
    api.on('change', (c: Choices) => {
      for (const [k, box] of boxes) box.checked = c[k] === true;
      showReceipt();
    });
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      const pick: Choices = {};
      for (const [k, box] of boxes) pick[k] = box.checked;
      api.set(pick, 'preference_center');
      status.textContent = T.saved;
    });
    // The receipt id arrives with the server's answer, after the change.
    document.addEventListener('fiducia:receipt', showReceipt);
  }
  return h('section', { 'aria-labelledby': 'choices-title' }, h('h2', { id: 'choices-title' }, T.choicesTitle), h('p', {}, T.choicesIntro), form, status, receipt);
}

async function post(url: string, body: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  const r = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Basic ${btoa(`${writeKey}:`)}` },
    body: JSON.stringify(body),
  });
  return { status: r.status, json: (await r.json().catch(() => ({}))) as Record<string, unknown> };
}

const errorCode = (json: Record<string, unknown>) => ((json.error as { code?: string } | undefined)?.code ?? '');

/** Access, export and erasure (and the other rights) through the self-service intake: request, then the e-mailed code. */
function requestSection(): HTMLElement {
  const status = h('p', { class: 'status', role: 'status', id: 'request-status' });
  const say = (text: string, error = false) => {
    status.textContent = text;
    status.classList.toggle('error', error);
  };
  const email = h('input', { type: 'email', id: 'request-email', name: 'email', required: '', autocomplete: 'email', maxlength: '254' });
  const type = h('select', { id: 'request-type', name: 'type' }, ...Object.entries(T.types).map(([value, label]) => h('option', { value }, label)));
  const details = h('textarea', { id: 'request-details', name: 'details', rows: '3', maxlength: '2000' });
  const send = h('button', { type: 'submit' }, T.send);
  const requestForm = h(
    'form',
    { id: 'request-form', 'aria-labelledby': 'rights-title' },
    h('label', { class: 'field', for: 'request-email' }, T.email),
    email,
    h('label', { class: 'field', for: 'request-type' }, T.type),
    type,
    h('label', { class: 'field', for: 'request-details' }, T.details),
    details,
    send,
  );
  const code = h('input', { type: 'text', id: 'request-code', name: 'code', required: '', inputmode: 'numeric', autocomplete: 'one-time-code', maxlength: '32' });
  const verify = h('button', { type: 'submit' }, T.verify);
  const codeForm = h('form', { id: 'code-form', hidden: '' }, h('label', { class: 'field', for: 'request-code' }, T.code), code, verify);
  const files = h('ul', { class: 'plain', id: 'request-files', hidden: '' });
  let requestId = '';
  let requestType = '';

  /** The status in words; a completed access request opens the person's data, a portability one offers the files. */
  const showOutcome = (json: Record<string, unknown>) => {
    const key = typeof json.status === 'string' ? json.status : 'received';
    say(T.verified(requestId, key, T.statuses[key] ?? T.statuses.received!));
    const download = json.download as { token?: unknown } | undefined;
    if (key !== 'completed' || typeof download?.token !== 'string') return;
    const base = `v1/rights-requests/${encodeURIComponent(requestId)}/download?token=${encodeURIComponent(download.token)}`;
    if (requestType === 'access') {
      say(`${T.verified(requestId, key, T.statuses[key]!)} ${T.opening}`);
      window.location.assign(`${base}&format=html&lang=${lang}`);
      return;
    }
    files.replaceChildren(h('li', {}, h('a', { href: `${base}&format=json`, download: '' }, T.downloadJson)), h('li', {}, h('a', { href: `${base}&format=csv`, download: '' }, T.downloadCsv)));
    files.hidden = false;
    say(`${T.verified(requestId, key, T.statuses[key]!)} ${T.ready}`);
  };

  if (!writeKey) {
    send.disabled = true;
    say(T.noKey, true);
  }
  requestForm.addEventListener('submit', (ev) => {
    ev.preventDefault();
    send.disabled = true;
    say(T.sending);
    const body = { email: email.value.trim(), type: type.value, language: lang, ...(details.value.trim() ? { details: details.value.trim() } : {}) };
    post('v1/rights-requests', body)
      .then(({ status: s, json }) => {
        if (s === 202 && typeof json.id === 'string') {
          requestId = json.id;
          requestType = body.type;
          codeForm.hidden = false;
          say(T.codeSent);
          code.focus();
        } else {
          send.disabled = false;
          say(s === 429 ? T.tooMany : s === 503 ? T.offline : `${T.failed} (${errorCode(json) || s})`, true);
        }
      })
      .catch(() => {
        send.disabled = false;
        say(T.offline, true);
      });
  });
  codeForm.addEventListener('submit', (ev) => {
    ev.preventDefault();
    verify.disabled = true;
    post(`v1/rights-requests/${encodeURIComponent(requestId)}/verify`, { code: code.value.trim() })
      .then(({ status: s, json }) => {
        if (s === 200) {
          codeForm.hidden = true;
          showOutcome(json);
          return;
        }
        verify.disabled = false;
        if (s === 429) say(T.tooMany, true);
        else if (errorCode(json) === 'FIDUCIA_VERIFICATION_FAILED') say(T.badCode, true);
        else say(`${T.failed} (${errorCode(json) || s})`, true);
        code.select();
      })
      .catch(() => {
        verify.disabled = false;
        say(T.offline, true);
      });
  });
  return h('section', { 'aria-labelledby': 'rights-title' }, h('h2', { id: 'rights-title' }, T.rightsTitle), h('p', {}, T.rightsIntro), requestForm, codeForm, status, files);
}

async function main(): Promise<void> {
  const app = document.getElementById('app')!;
  document.title = T.title;
  let cfg: Config;
  try {
    const r = await fetch('v1/consent/config');
    cfg = (await r.json()) as Config;
  } catch {
    app.replaceChildren(h('h1', {}, T.title), h('p', {}, T.offline));
    return;
  }
  const contact = h('p', {}, `${T.controller}: ${cfg.controller.name} (${country(cfg.controller.country)}) — `, h('a', { href: `mailto:${cfg.controller.contact}` }, cfg.controller.contact));
  if (cfg.controller.dpo) contact.append(` · ${T.dpo}: `, h('a', { href: `mailto:${cfg.controller.dpo}` }, cfg.controller.dpo));
  app.replaceChildren(
    h('h1', {}, T.title),
    h('p', {}, T.intro),
    contact,
    choicesSection(cfg),
    h('section', { 'aria-labelledby': 'purposes-title' }, h('h2', { id: 'purposes-title' }, T.purposesTitle), h('p', { class: 'note' }, `${T.notice}: ${cfg.noticeVersion}`), ...cfg.purposes.map(purposeCard)),
    requestSection(),
  );
  app.before(header(cfg));
}

void main();
