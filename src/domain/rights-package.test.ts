import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { DEFAULT_CONFIG_PATH, loadPrivacyConfig } from '../services/config/config-loader.ts';
import { csvCell } from './csv.ts';
import { escapeHtml } from './html.ts';
import { CompiledConfig } from './privacy-config.ts';
import { renderAccessHtml } from './rights-html.ts';
import { buildAccessPackage, buildPortabilityPackage, portabilityCsv, type EventItem, type SubjectData, type TraitItem } from './rights-package.ts';

const cfg = loadPrivacyConfig(DEFAULT_CONFIG_PATH);
const T = Date.UTC(2026, 10, 29, 12);

function event(messageId: string, purposes: string[], category = 'user.behavior.browsing'): EventItem {
  return { messageId, type: 'track', event: 'Product Viewed', timestamp: T, receivedAt: T + 5, category, purposes, sourceId: 'src-1', properties: { product_id: messageId }, context: {} };
}

function trait(name: string, value: unknown, purposes: string[], category = 'user.name'): TraitItem {
  return { name, value, category, purposes, sourceId: 'src-1', updatedAt: T };
}

const data: SubjectData = {
  subject: { id: 'subject-1', createdAt: T - 1000, restricted: false, objections: [] },
  identities: [{ kind: 'userId', value: 'u-1', asserted: 'server' }],
  traits: [trait('firstName', 'Ada', ['service', 'personalization']), trait('ipSeen', '10.0.0.1', ['security'], 'user.device.ip')],
  events: [event('m-1', ['analytics']), event('m-2', ['security'], 'user.device.ip'), event('m-3', ['service'], 'user.behavior.purchase')],
  consents: [{ purpose: 'analytics', status: 'granted', noticeVersion: '2026-11', method: 'banner', sourceId: 'src-1', receiptId: 'r-1', at: T - 500 }],
  sourceNames: new Map([['src-1', 'Web shop']]),
};

describe('access package', () => {
  const pkg = buildAccessPackage(cfg, data, T + 10);
  it('has exactly the contract keys and every item', () => {
    assert.deepEqual(Object.keys(pkg), ['subject', 'identities', 'traits', 'events', 'consents', 'purposes', 'recipients', 'retention']);
    assert.deepEqual(pkg.events.map((e) => e.messageId), ['m-1', 'm-2', 'm-3']);
    assert.equal(pkg.events[0]?.timestamp, new Date(T).toISOString());
    assert.equal(pkg.events[0]?.source, 'Web shop');
  });
  it('lists the purposes the data is processed under, their recipients and retention', () => {
    assert.deepEqual(pkg.purposes.map((p) => p.key).sort(), ['analytics', 'personalization', 'security', 'service']);
    assert.deepEqual(pkg.purposes.find((p) => p.key === 'security')?.categories, ['user.device.ip']);
    assert.deepEqual(pkg.recipients.map((r) => r.name).sort(), ['Hosting and CDN provider', 'Payment service provider', 'Shipping carrier']);
    assert.equal(pkg.retention.find((r) => r.purpose === 'service')?.days, 3650);
    assert.deepEqual(pkg.subject.sources, [{ id: 'src-1', name: 'Web shop' }]);
  });
  it('names the destinations of those purposes and every transfer outside the EEA with its basis in words', () => {
    const withCrm = new CompiledConfig({
      ...cfg.config,
      destinations: [
        { id: 'crm', kind: 'webhook', name: 'CRM', recipientKind: 'processor', purposes: ['analytics'], endpoint: 'https://crm.example/h', secretEnv: 'CRM_SECRET', country: 'IN', transfer: { basis: 'standard_contractual_clauses' }, allowPrivateNetwork: false },
      ],
    });
    const ads = buildAccessPackage(withCrm, { ...data, events: [...data.events, event('m-4', ['advertising'])] }, T);
    const us = ads.recipients.find((r) => r.name === 'US advertising network');
    assert.deepEqual(us?.purposes, ['advertising']);
    assert.match(us?.transfer?.it ?? '', /^Stati Uniti \(US\): destinatario certificato secondo il Data Privacy Framework UE-USA/);
    assert.equal(ads.recipients.find((r) => r.name === 'EU advertising network')?.transfer, undefined, 'FR is in the EEA');
    const crm = ads.recipients.find((r) => r.name === 'CRM');
    assert.deepEqual([crm?.kind, crm?.country, crm?.purposes], ['processor', 'IN', ['analytics']]);
    assert.match(crm?.transfer?.en ?? '', /^India \(IN\): standard contractual clauses/);
    const html = renderAccessHtml(ads, withCrm.config, 'it');
    assert.ok(html.includes('>Trasferimento fuori dallo Spazio economico europeo</th>'), 'the transfer column');
    assert.ok(html.includes('>India (IN): clausole contrattuali tipo adottate dalla Commissione europea (art. 46(2)(c) GDPR)</td>'), 'the transfer in words');
    assert.ok(html.includes('>Rete pubblicitaria statunitense</td>') && html.includes('>Stati Uniti</td>'), 'recipient and country in Italian');
    assert.ok(!html.includes('standard_contractual_clauses') && !html.includes('data_privacy_framework'), 'no internal keys');
  });
  it('leaves the event key out of events without a name', () => {
    const p = buildAccessPackage(cfg, { ...data, events: [{ ...event('m-9', ['analytics']), type: 'page', event: null }] }, T);
    assert.ok(!('event' in JSON.parse(JSON.stringify(p.events[0]))));
  });
  it('renders HTML with every value escaped', () => {
    const evil = buildAccessPackage(cfg, { ...data, traits: [trait('lastName', '<img src=x onerror=alert(1)>', ['service'])] }, T);
    const html = renderAccessHtml(evil, cfg.config, 'en');
    assert.ok(!html.includes('<img'));
    assert.ok(html.includes('&lt;img src=x onerror=alert(1)&gt;'));
    fc.assert(fc.property(fc.string(), (s) => !/[<>"']/.test(escapeHtml(s))));
  });
});

describe('portability package', () => {
  const pkg = buildPortabilityPackage(cfg, data, T);
  it('keeps only what rests on consent or contract', () => {
    assert.deepEqual(pkg.events.map((e) => e.messageId), ['m-1', 'm-3']);
    assert.deepEqual(pkg.traits.map((t) => t.name), ['firstName']);
  });
  it('writes one CSV row per identity, trait and event, quoting as RFC 4180 says', () => {
    const csv = portabilityCsv(pkg).split('\r\n');
    assert.equal(csv[0], 'record,name,messageId,type,event,timestamp,value');
    assert.equal(csv.length, 1 + 1 + 1 + 2 + 1);
    assert.equal(csv.at(-1), '');
    assert.equal(csv[3], `event,,m-1,track,Product Viewed,${new Date(T).toISOString()},"{""product_id"":""m-1""}"`);
  });
  // One rule for every CSV export (src/domain/csv.ts): numbers with a leading sign are defused too, as the RoPA always did.
  it('defuses spreadsheet formulas, signed numbers included', () => {
    assert.equal(csvCell('=HYPERLINK("x")'), `"'=HYPERLINK(""x"")"`);
    assert.equal(csvCell('+39 333'), "'+39 333");
    assert.equal(csvCell('-12.5'), "'-12.5");
    assert.equal(csvCell(-3), "'-3");
    assert.equal(csvCell('a,b'), '"a,b"');
    assert.equal(csvCell(null), '');
  });
});
