import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { TransferSafeguard } from './privacy-config-types.ts';
import {
  ADEQUACY_DECISIONS,
  adequacyDecision,
  checkTransfer,
  countryName,
  EEA_COUNTRIES,
  isEea,
  safeguardText,
  TRANSFER_BASIS_TEXT,
  TRANSFER_DEROGATION_TEXT,
  transferSentence,
} from './transfers.ts';

const allowed = (country: string, s?: TransferSafeguard) => checkTransfer(country, s).allow;
const reason = (country: string, s?: TransferSafeguard) => checkTransfer(country, s).reason ?? '';

describe('transfers outside the EEA (Chapter V)', () => {
  it('knows the EEA: the 27 EU states plus Iceland, Liechtenstein and Norway', () => {
    assert.equal(EEA_COUNTRIES.size, 30);
    for (const c of ['IT', 'DE', 'FR', 'IE', 'HR', 'IS', 'LI', 'NO']) assert.ok(isEea(c), `${c} is in the EEA`);
    for (const c of ['CH', 'GB', 'US', 'GR0', 'EL', 'UK']) assert.ok(!isEea(c), `${c} is not in the EEA`);
  });

  it('lists the adequacy decisions, the US apart (Data Privacy Framework only) and no EEA state among them', () => {
    const codes = ADEQUACY_DECISIONS.map((d) => d.country);
    assert.deepEqual(codes, ['AD', 'AR', 'BR', 'CA', 'CH', 'FO', 'GB', 'GG', 'IL', 'IM', 'JE', 'JP', 'KR', 'NZ', 'UY']);
    assert.equal(adequacyDecision('US'), undefined);
    for (const c of codes) assert.ok(!isEea(c), c);
    assert.match(adequacyDecision('CA')?.scope?.en ?? '', /commercial organisations/);
  });

  it('inside the EEA: no transfer, no safeguard, and a stated one is a mistake', () => {
    assert.deepEqual(checkTransfer('IT', undefined), { outsideEea: false, needsSafeguard: false, safeguard: undefined, allow: true });
    assert.match(reason('DE', { basis: 'standard_contractual_clauses' }), /DE is in the EEA.*remove transfer/);
  });

  it('a country with an adequacy decision needs nothing more, and may still name another safeguard', () => {
    const ch = checkTransfer('CH', undefined);
    assert.deepEqual([ch.outsideEea, ch.needsSafeguard, ch.allow, ch.safeguard?.basis], [true, false, true, 'adequacy']);
    assert.ok(allowed('JP', { basis: 'adequacy' }), 'adequacy for JP');
    assert.ok(allowed('CA', { basis: 'standard_contractual_clauses' }), 'SCC for a Canadian organisation outside PIPEDA');
  });

  it('the US needs the Data Privacy Framework or another safeguard; the framework is for the US only', () => {
    const none = checkTransfer('US', undefined);
    assert.deepEqual([none.outsideEea, none.needsSafeguard, none.allow], [true, true, false]);
    assert.match(none.reason ?? '', /Data Privacy Framework.*data_privacy_framework/);
    assert.ok(allowed('US', { basis: 'data_privacy_framework' }), 'DPF for US');
    assert.ok(allowed('US', { basis: 'standard_contractual_clauses', reference: 'DPA 2026-03, module 2' }), 'SCC for US');
    assert.match(reason('US', { basis: 'adequacy' }), /no adequacy decision of its own.*data_privacy_framework/);
    assert.match(reason('GB', { basis: 'data_privacy_framework' }), /US only, not GB/);
  });

  it('elsewhere: Art. 46 safeguards or an Art. 49 derogation, never adequacy', () => {
    assert.match(reason('IN', undefined), /IN is outside the EEA and has no adequacy decision/);
    assert.match(reason('IN', { basis: 'adequacy' }), /IN has no adequacy decision in force/);
    assert.ok(allowed('IN', { basis: 'standard_contractual_clauses' }), 'SCC');
    assert.ok(allowed('SG', { basis: 'binding_corporate_rules' }), 'BCR');
    assert.ok(allowed('AU', { basis: 'derogation', derogation: 'explicit_consent' }), 'explicit consent');
  });

  it('a derogation is named with basis derogation, and only then', () => {
    assert.match(reason('AU', { basis: 'derogation' }), /needs derogation: explicit_consent/);
    assert.match(reason('US', { basis: 'standard_contractual_clauses', derogation: 'contract' }), /only with basis derogation, not standard_contractual_clauses/);
    assert.match(reason('IT', { basis: 'adequacy', derogation: 'contract' }), /only with basis derogation/);
  });

  it('refuses common non-ISO spellings instead of judging a country that does not exist', () => {
    assert.match(reason('UK', undefined), /"UK" is not an ISO 3166-1 alpha-2 code; write "GB"/);
    assert.match(reason('EL', undefined), /write "GR"/);
  });

  it('names bases, derogations and countries in Italian and English, without internal keys', () => {
    for (const lang of ['it', 'en'] as const) {
      for (const t of [...Object.values(TRANSFER_BASIS_TEXT), ...Object.values(TRANSFER_DEROGATION_TEXT)]) {
        assert.ok(!/_/.test(t[lang]), `no snake_case in "${t[lang]}"`);
      }
    }
    assert.equal(countryName('US', 'it'), 'Stati Uniti');
    assert.equal(countryName('US', 'en'), 'United States');
    assert.equal(countryName('not a code', 'en'), 'not a code');
    assert.equal(
      safeguardText({ basis: 'standard_contractual_clauses', reference: 'DPA 2026-03' }, 'en'),
      'standard contractual clauses adopted by the European Commission (Art. 46(2)(c) GDPR); reference: DPA 2026-03',
    );
    assert.equal(
      safeguardText({ basis: 'derogation', derogation: 'explicit_consent' }, 'it'),
      'deroga per una situazione specifica: il tuo consenso esplicito al trasferimento (art. 49(1)(a) GDPR)',
    );
    assert.match(safeguardText({ basis: 'adequacy' }, 'it', 'CA'), /decisione di adeguatezza .*art\. 45 GDPR.*organizzazioni commerciali/);
    assert.equal(
      transferSentence('US', { basis: 'data_privacy_framework' }, 'en'),
      'United States (US): recipient certified under the EU-US Data Privacy Framework, covered by an adequacy decision (Art. 45 GDPR)',
    );
  });
});
