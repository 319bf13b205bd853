// The record of processing (Art. 30) and the notice's purpose table, generated from the configuration and the running system.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, it } from 'node:test';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import type { Ropa } from '../src/domain/ropa.ts';
import { DEFAULT_CONFIG_PATH } from '../src/services/config/config-loader.ts';
import { rotateKeys } from '../src/services/keys/key-rotation.ts';
import { ADMIN_TOKEN, eachDialect, startFiducia } from './helpers/harness.ts';

// The shipped configuration with a controller name that needs escaping in HTML and quoting in CSV, and a destination
// outside the EEA under standard contractual clauses.
const dir = mkdtempSync(join(tmpdir(), 'fiducia-ropa-'));
const CONFIG = join(dir, 'fiducia.yaml');
const DESTINATION = `
destinations:
  - id: crm
    kind: webhook
    name: CRM platform
    purposes: [marketing]
    categories: [user.contact.email]
    endpoint: https://crm.example.in/hooks/fiducia
    secretEnv: FIDUCIA_TEST_CRM_SECRET
    country: IN
    transfer: { basis: standard_contractual_clauses, reference: DPA 2026-05 }
`;
process.env['FIDUCIA_TEST_CRM_SECRET'] ??= `whsec_${randomBytes(24).toString('base64')}`;
writeFileSync(CONFIG, readFileSync(DEFAULT_CONFIG_PATH, 'utf8').replace('name: Example Shop S.r.l.', 'name: "Shop <b>\\"Rossi\\"</b>, S.r.l."') + DESTINATION);

await eachDialect('record of processing', (dialect) => {
  let f: Awaited<ReturnType<typeof startFiducia>>;
  let dpo: string;
  const get = (url: string, token = dpo) => f.app.inject({ method: 'GET', url, headers: { authorization: `Bearer ${token}` } });
  before(async () => {
    f = await startFiducia(dialect, { configPath: CONFIG, auditCheckpointSeconds: 0 });
    dpo = (await f.access.createToken({ name: 'dpo', role: 'dpo', purposes: [] })).token;
  });
  after(async () => f.stop());

  it('is for dpo and admin', async () => {
    const analyst = (await f.access.createToken({ name: 'a', role: 'analyst', purposes: [] })).token;
    assert.equal((await f.app.inject({ method: 'GET', url: '/api/v1/ropa' })).statusCode, 401);
    assert.equal((await get('/api/v1/ropa', analyst)).statusCode, 403);
    assert.equal((await get('/api/v1/ropa', ADMIN_TOKEN)).statusCode, 200);
    assert.equal((await get('/api/v1/ropa?format=pdf')).statusCode, 400);
  });

  it('states controller, purposes, bases, categories, recipients, transfers and retention from the configuration', async () => {
    const r = (await get('/api/v1/ropa')).json() as Ropa;
    assert.equal(r.controller.name, 'Shop <b>"Rossi"</b>, S.r.l.');
    assert.equal(r.controller.dpo, 'dpo@example-shop.it');
    assert.equal(r.configHash, f.cfg.hash);
    assert.deepEqual(r.activities.map((a) => a.purpose), ['service', 'security', 'analytics', 'personalization', 'marketing', 'advertising']);
    const by = Object.fromEntries(r.activities.map((a) => [a.purpose, a]));
    assert.equal(by.service!.legalBasisArticle, 'Art. 6(1)(b) GDPR');
    assert.equal(by.security!.legalBasis, 'legitimate_interests');
    assert.equal(by.analytics!.consentRequired, true);
    assert.equal(by.service!.retentionDays, 3650);
    // A prefix entry (user.preference) lists every category under it; campaign engagement only for marketing.
    assert.ok(by.personalization!.dataCategories.some((c) => c.key === 'user.preference.lifestyle'));
    assert.deepEqual(r.activities.filter((a) => a.dataCategories.some((c) => c.key === 'user.behavior.campaign')).map((a) => a.purpose), ['marketing']);
    assert.ok(r.activities.every((a) => a.dataCategories.every((c) => !c.special)), 'no shipped purpose covers Art. 9 data');
    assert.equal(by.advertising!.saleOrShare, true);
    // Transfers outside the EEA: the CRM destination in India and the US network.
    assert.deepEqual(r.transfers.map((t) => [t.purpose, t.recipient, t.destination, t.country, t.basis, t.reference, t.adequacyDecision]), [
      ['marketing', 'CRM platform', 'crm', 'IN', 'standard_contractual_clauses', 'DPA 2026-05', undefined],
      ['advertising', 'US advertising network', undefined, 'US', 'data_privacy_framework', undefined, 'Implementing Decision (EU) 2023/1795'],
    ]);
    assert.match(r.transfers[1]!.safeguard, /Data Privacy Framework/);
    assert.deepEqual(by.advertising!.transfers, r.transfers.slice(1));
    // The destination is a recipient of its purpose, with what it is narrowed to.
    const crm = r.recipients.find((x) => x.destination?.id === 'crm');
    assert.deepEqual([crm?.name, crm?.kind, crm?.country, crm?.purposes, crm?.categories], ['CRM platform', 'processor', 'IN', ['marketing'], ['user.contact.email']]);
    assert.deepEqual(by.marketing!.recipients.map((x) => x.name), ['Email service provider', 'CRM platform']);
    const psp = r.recipients.find((x) => x.name === 'Payment service provider');
    assert.deepEqual(psp?.purposes, ['service']);
  });

  it('states the security measures in force: encryption, the last key rotation, the audit head', async () => {
    let r = (await get('/api/v1/ropa')).json() as Ropa;
    const keks = await f.dbs.keys.selectFrom('kek_versions').select(['version', 'created_at']).orderBy('version').execute();
    assert.equal(r.security.encryption.kekVersion, keks.length);
    assert.equal(r.security.encryption.lastKeyRotation, new Date(Number(keks.at(-1)!.created_at)).toISOString());
    assert.match(r.security.encryption.scheme, /AES-256-GCM/);
    assert.equal(r.security.audit.lastCheckpoint, null);
    assert.equal(r.security.audit.entries, (await f.audit.head()).size);
    assert.equal(r.security.audit.rootHash, (await f.audit.head()).rootHash.toString('base64'));
    assert.equal(r.security.access.tokensByRole.dpo, 1);

    await new Promise((res) => setTimeout(res, 5)); // a rotation in a later millisecond than the first key
    await rotateKeys({ ring: f.ring, audit: f.audit, db: f.dbs.store });
    const cp = await f.audit.checkpoint();
    assert.equal((await get('/api/v1/audit/verify')).statusCode, 200);
    r = (await get('/api/v1/ropa')).json() as Ropa;
    const latest = await f.dbs.keys.selectFrom('kek_versions').select(['version', 'created_at']).orderBy('version', 'desc').executeTakeFirstOrThrow();
    assert.equal(r.security.encryption.kekVersion, latest.version);
    assert.equal(r.security.encryption.lastKeyRotation, new Date(Number(latest.created_at)).toISOString());
    assert.deepEqual(r.security.audit.lastCheckpoint, { treeSize: cp.treeSize, at: new Date(cp.timestamp).toISOString() });
    assert.equal(r.security.audit.lastVerify?.ok, true);
    assert.equal(r.security.audit.signingKeyId, f.audit.signer.keyId);
  });

  it('renders as readable HTML and as CSV, escaped', async () => {
    const html = await get('/api/v1/ropa?format=html&lang=en');
    assert.match(String(html.headers['content-type']), /^text\/html/);
    assert.ok(html.body.includes('Shop &lt;b&gt;&quot;Rossi&quot;&lt;/b&gt;, S.r.l.'));
    assert.ok(!html.body.includes('<b>"Rossi"'));
    assert.match(html.body, /Record of processing activities/);
    assert.match(html.body, /Last key rotation/);
    assert.match(html.body, /<h2 id="h-transfers">Transfers outside the EEA \(Chapter V GDPR\)<\/h2>.*<td>US advertising network<\/td><td>—<\/td><td>Personalised advertising<\/td><td>United States<\/td><td>recipient certified under the EU-US Data Privacy Framework/s);
    const italian = await get('/api/v1/ropa?format=html&lang=it');
    assert.match(italian.body, /<html lang="it">.*Trasferimenti fuori dal SEE \(capo V GDPR\).*<td>Rete pubblicitaria statunitense<\/td><td>—<\/td><td>Pubblicità personalizzata<\/td><td>Stati Uniti<\/td>/s);
    assert.match(String(italian.headers['content-security-policy']), /style-src 'sha256-/);
    const csv = await get('/api/v1/ropa?format=csv');
    assert.match(String(csv.headers['content-type']), /^text\/csv/);
    assert.match(String(csv.headers['content-disposition']), /attachment/);
    const lines = csv.body.trimEnd().split('\r\n');
    assert.equal(lines.length, 7);
    assert.match(lines[0]!, /^controller,controller_contact,dpo,purpose,/);
    assert.ok(lines[1]!.startsWith('"Shop <b>""Rossi""</b>, S.r.l.",privacy@example-shop.it,dpo@example-shop.it,service,'));
    assert.ok(lines[6]!.includes('US advertising network -> US'));
    assert.ok(lines[5]!.includes('CRM platform (processor, IN, destination crm)') && lines[5]!.includes('CRM platform -> IN: standard contractual clauses'), lines[5]);
  });

  it('publishes the notice purpose table in Italian and English, without a token', async () => {
    const it_ = (await f.app.inject({ method: 'GET', url: '/api/v1/ropa/purposes?lang=it' })).json() as { lang: string; purposes: { key: string; name: string; legalBasis: string; retention: string; dataCategories: string[]; transfers: { countryName: string; safeguard: string }[] }[] };
    const en = (await f.app.inject({ method: 'GET', url: '/api/v1/ropa/purposes?lang=en' })).json() as typeof it_;
    const a = (t: typeof it_, k: string) => t.purposes.find((p) => p.key === k)!;
    assert.equal(a(it_, 'analytics').name, 'Statistiche');
    assert.equal(a(en, 'analytics').name, 'Analytics');
    assert.equal(a(it_, 'analytics').legalBasis, 'Consenso');
    assert.equal(a(en, 'security').legalBasis, 'Legitimate interests');
    assert.equal(a(it_, 'analytics').retention, '13 mesi (395 giorni)');
    assert.equal(a(en, 'service').retention, '10 years');
    assert.ok(a(it_, 'marketing').dataCategories.includes('Interazione con le campagne'));
    assert.equal(a(it_, 'advertising').transfers[0]!.safeguard, 'destinatario certificato secondo il Data Privacy Framework UE-USA, coperto da una decisione di adeguatezza (art. 45 GDPR)');
    assert.equal(a(it_, 'advertising').transfers[0]!.countryName, 'Stati Uniti');
    assert.match(a(en, 'advertising').transfers[0]!.safeguard, /^recipient certified under the EU-US Data Privacy Framework/);
    const html = await f.app.inject({ method: 'GET', url: '/api/v1/ropa/purposes?lang=it&format=html' });
    assert.match(html.body, /<html lang="it">/);
    assert.match(html.body, /Finalità del trattamento/);
    assert.ok(html.body.includes('Rete pubblicitaria statunitense — Stati Uniti (US): destinatario certificato secondo il Data Privacy Framework UE-USA'), 'the transfer in words, the recipient by its Italian label');
    assert.ok(!html.body.includes('data_privacy_framework'), 'no internal key');
    assert.ok(html.body.includes('CRM platform — India (IN): clausole contrattuali tipo adottate dalla Commissione europea (art. 46(2)(c) GDPR); riferimento: DPA 2026-05'), 'the destination\'s transfer');
    const consentConfig = (await f.app.inject({ method: 'GET', url: '/v1/consent/config' })).json() as { purposes: { key: string; recipients: { name: string; transfer?: { en: string } }[] }[] };
    const marketing = consentConfig.purposes.find((p) => p.key === 'marketing');
    assert.deepEqual(marketing?.recipients.map((x) => [x.name, x.transfer?.en]), [
      ['Email service provider', undefined],
      ['CRM platform', 'India (IN): standard contractual clauses adopted by the European Commission (Art. 46(2)(c) GDPR); reference: DPA 2026-05'],
    ]);
    assert.equal((await f.app.inject({ method: 'GET', url: '/api/v1/ropa/purposes?lang=de' })).statusCode, 400);
  });
});
