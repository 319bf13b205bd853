import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { csvCell } from './csv.ts';
import { escapeHtml } from './html.ts';
import { validatePrivacyConfig } from './privacy-config.ts';
import type { PrivacyConfig } from './privacy-config-types.ts';
import { noticeHtml, ropaCsv, ropaHtml } from './ropa-render.ts';
import { buildRopa, noticePurposes, retentionText, type SystemFacts } from './ropa.ts';

/** The shipped shop with destinations: in the EEA, under the Data Privacy Framework, under SCCs, a derogation, and an adequate country. */
function shopWithDestinations(): PrivacyConfig {
  const raw = parse(readFileSync(new URL('../../config/fiducia.yaml', import.meta.url), 'utf8')) as Record<string, unknown>;
  const hook = { kind: 'webhook', secretEnv: 'HOOK_SECRET' };
  raw['destinations'] = [
    { ...hook, id: 'crm', name: 'CRM', purposes: ['marketing'], categories: ['user.contact.email'], endpoint: 'https://crm.example.de/h', country: 'DE' },
    { id: 'warehouse', kind: 'segment', name: 'Warehouse', purposes: ['analytics'], endpoint: 'https://api.segment.example/v1', secretEnv: 'WAREHOUSE_WRITE_KEY', country: 'US', transfer: { basis: 'data_privacy_framework' } },
    { ...hook, id: 'helpdesk', name: 'Helpdesk', purposes: ['service'], endpoint: 'https://help.example.in/h', country: 'IN', transfer: { basis: 'standard_contractual_clauses', reference: 'DPA of 2026-03-01, module 2' } },
    { ...hook, id: 'sms', name: 'SMS gateway', recipientKind: 'third_party', purposes: ['marketing'], endpoint: 'https://sms.example.au/h', country: 'AU', transfer: { basis: 'derogation', derogation: 'explicit_consent' } },
    { ...hook, id: 'stats', name: 'Swiss statistics', purposes: ['analytics'], endpoint: 'https://stats.example.ch/h', country: 'CH' },
  ];
  const v = validatePrivacyConfig(raw);
  assert.ok(v.ok, v.ok ? '' : JSON.stringify(v.errors));
  return v.config;
}

const FACTS: SystemFacts = {
  generatedAt: Date.UTC(2026, 11, 7),
  configHash: 'abc',
  storage: 'sqlite',
  encryption: { kekVersion: 1, lastKeyRotation: null, kekVersions: 1 },
  access: { tokensByRole: { admin: 1 }, sources: 1 },
  audit: { size: 0, rootHash: '', signingKeyId: 'k', origin: 'o', lastCheckpoint: null, lastVerify: null },
};

describe('record of processing helpers', () => {
  it('words retention periods', () => {
    assert.equal(retentionText(3650, 'it'), '10 anni');
    assert.equal(retentionText(365, 'en'), '1 year');
    assert.equal(retentionText(395, 'en'), '13 months (395 days)');
    assert.equal(retentionText(730, 'it'), '2 anni');
    assert.equal(retentionText(90, 'it'), '3 mesi (90 giorni)');
    assert.equal(retentionText(45, 'en'), '45 days');
  });

  it('lists destinations as recipients of their purposes, and every transfer outside the EEA with its basis', () => {
    const ropa = buildRopa(shopWithDestinations(), FACTS);
    const marketing = ropa.activities.find((a) => a.purpose === 'marketing');
    assert.deepEqual(marketing?.recipients.map((r) => [r.name, r.destination?.id]), [['Email service provider', undefined], ['CRM', 'crm'], ['SMS gateway', 'sms']]);
    assert.deepEqual(marketing?.recipients[1]?.categories, ['user.contact.email']);
    assert.deepEqual(
      ropa.transfers.map((t) => [t.purpose, t.recipient, t.destination, t.country, t.basis, t.derogation, t.reference, t.adequacyDecision]),
      [
        ['service', 'Helpdesk', 'helpdesk', 'IN', 'standard_contractual_clauses', undefined, 'DPA of 2026-03-01, module 2', undefined],
        ['analytics', 'Warehouse', 'warehouse', 'US', 'data_privacy_framework', undefined, undefined, 'Implementing Decision (EU) 2023/1795'],
        ['analytics', 'Swiss statistics', 'stats', 'CH', 'adequacy', undefined, undefined, 'Decision 2000/518/EC'],
        ['marketing', 'SMS gateway', 'sms', 'AU', 'derogation', 'explicit_consent', undefined, undefined],
        ['advertising', 'US advertising network', undefined, 'US', 'data_privacy_framework', undefined, undefined, 'Implementing Decision (EU) 2023/1795'],
      ],
    );
    assert.match(ropa.transfers[0]!.safeguard, /^standard contractual clauses .*\(Art\. 46\(2\)\(c\) GDPR\); reference: DPA of 2026-03-01/);
    const warehouse = ropa.recipients.find((r) => r.destination?.id === 'warehouse');
    assert.deepEqual([warehouse?.purposes, warehouse?.destination?.kind], [['analytics'], 'segment']);

    const html = ropaHtml(ropa, 'en');
    assert.match(html, /<h2 id="h-transfers">Transfers outside the EEA \(Chapter V GDPR\)<\/h2>/);
    assert.ok(html.includes('<td>derogation for a specific situation (Art. 49(1) GDPR)</td><td>your explicit consent to the transfer (Art. 49(1)(a) GDPR)</td>'), 'derogation in words');
    assert.ok(html.includes('CRM (processor, Germany; automatic delivery (webhook); only Email address)'), 'destination among the recipients');
    assert.ok(!html.includes('standard_contractual_clauses'), 'bases in words in the HTML record');
    // The same record in Italian: headings, recipients, countries, bases and decisions in Italian, no keys.
    const it_ = ropaHtml(ropa, 'it');
    assert.match(it_, /<html lang="it">.*<h1>Registro delle attività di trattamento \(art\. 30 GDPR\)<\/h1>/s);
    assert.ok(it_.includes('CRM (responsabile del trattamento, Germania; invio automatico (webhook); solo Indirizzo email)'), 'destination in Italian');
    assert.ok(it_.includes('Fornitore dei servizi di pagamento (responsabile del trattamento, Irlanda)'), 'recipient label in Italian');
    assert.ok(it_.includes('Decisione di esecuzione (UE) 2023/1795') && it_.includes('Decisione 2000/518/CE'), 'Commission decisions in Italian');
    assert.ok(it_.includes('il tuo consenso esplicito al trasferimento'), 'derogation in Italian');
    for (const word of [/Record of processing/, /Recipient/, /\bprocessor\b/, /\bDecision\b/, /\bentries\b/, /<code>/]) assert.doesNotMatch(it_, word, 'English or keys in the Italian record');
    const csv = ropaCsv(ropa);
    assert.ok(csv.includes('Helpdesk -> IN: standard contractual clauses'), 'transfer in the CSV');
    assert.ok(csv.includes('Warehouse (processor, US, destination warehouse)'), 'destination in the CSV');
  });

  it('names every transfer in the notice in words, in Italian and English', () => {
    const cfg = shopWithDestinations();
    const it_ = noticePurposes(cfg, 'it');
    const en = noticePurposes(cfg, 'en');
    const analytics = (n: typeof it_) => n.find((p) => p.key === 'analytics')!;
    assert.deepEqual(analytics(en).recipients.map((r) => r.name), ['Warehouse', 'Swiss statistics']);
    assert.deepEqual(analytics(it_).transfers.map((t) => [t.recipient, t.countryName]), [['Warehouse', 'Stati Uniti'], ['Swiss statistics', 'Svizzera']]);
    assert.match(analytics(it_).transfers[0]!.safeguard, /Data Privacy Framework UE-USA.*art\. 45 GDPR/);
    assert.match(analytics(en).transfers[1]!.safeguard, /European Commission adequacy decision \(Art\. 45 GDPR\)/);
    const sms = it_.find((p) => p.key === 'marketing')!.transfers.find((t) => t.recipient === 'SMS gateway');
    assert.equal(sms?.safeguard, 'deroga per una situazione specifica: il tuo consenso esplicito al trasferimento (art. 49(1)(a) GDPR)');
    for (const lang of ['it', 'en'] as const) {
      const html = noticeHtml('Shop', noticePurposes(cfg, lang), lang);
      for (const key of ['standard_contractual_clauses', 'data_privacy_framework', 'explicit_consent', 'derogation:']) assert.ok(!html.includes(key), `${lang}: no ${key}`);
    }
    assert.ok(noticeHtml('Shop', it_, 'it').includes('Helpdesk — India (IN): clausole contrattuali tipo adottate dalla Commissione europea (art. 46(2)(c) GDPR); riferimento: DPA of 2026-03-01, module 2'));
  });

  it('quotes CSV cells and defuses spreadsheet formulas', () => {
    assert.equal(csvCell('plain'), 'plain');
    assert.equal(csvCell('a,b'), '"a,b"');
    assert.equal(csvCell('say "hi"'), '"say ""hi"""');
    assert.equal(csvCell('=HYPERLINK("x")'), `"'=HYPERLINK(""x"")"`);
    assert.equal(csvCell('+1'), "'+1");
    assert.equal(csvCell(42), '42');
  });

  it('escapes HTML', () => {
    assert.equal(escapeHtml(`<a href="x">'&'</a>`), '&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;');
  });
});
