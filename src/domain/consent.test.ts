import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { isIPv6 } from 'node:net';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { DEFAULT_CONFIG_PATH, loadPrivacyConfig } from '../services/config/config-loader.ts';
import { basisHolds, isUnchanged, latestStates, nextStatus, type ConsentState, type ConsentStatus } from './consent.ts';
import { consentProof, truncateIp } from './consent-proof.ts';
import { uuidv7 } from './ids.ts';
import { LEGAL_BASES, type LegalBasis, type Purpose } from './privacy-config-types.ts';

const cfg = loadPrivacyConfig(DEFAULT_CONFIG_PATH);
const valid = (v: string): boolean => cfg.noticeVersionValid(v);

function purposeWith(legalBasis: LegalBasis): Purpose {
  return { ...cfg.purpose('analytics')!, key: `p_${legalBasis}`, legalBasis };
}

function state(status: ConsentStatus, noticeVersion = '2026-11', purpose = 'analytics'): ConsentState {
  return { purpose, status, noticeVersion, method: 'banner', at: 1 };
}

describe('notice versions of the shipped configuration', () => {
  it('2026-06 (the last material change) and 2026-11 are valid, 2026-01 and unknown versions are not', () => {
    assert.equal(cfg.config.notice.current, '2026-11');
    assert.equal(valid('2026-11'), true);
    assert.equal(valid('2026-06'), true);
    assert.equal(valid('2026-01'), false);
    assert.equal(valid('2027-01'), false);
    assert.equal(valid(''), false);
  });
});

describe('basisHolds', () => {
  const analytics = cfg.purpose('analytics')!;
  const security = cfg.purpose('security')!;
  const service = cfg.purpose('service')!;

  it('consent: needs a grant under a valid notice version', () => {
    assert.equal(analytics.legalBasis, 'consent');
    assert.deepEqual(basisHolds(analytics, undefined, valid), { holds: false, reason: 'no_consent' });
    assert.deepEqual(basisHolds(analytics, state('granted'), valid), { holds: true });
    assert.deepEqual(basisHolds(analytics, state('granted', '2026-06'), valid), { holds: true });
    assert.deepEqual(basisHolds(analytics, state('granted', '2026-01'), valid), { holds: false, reason: 'notice_outdated' });
    assert.deepEqual(basisHolds(analytics, state('granted', 'no-such-version'), valid), { holds: false, reason: 'notice_outdated' });
    assert.deepEqual(basisHolds(analytics, state('denied'), valid), { holds: false, reason: 'consent_denied' });
    assert.deepEqual(basisHolds(analytics, state('withdrawn'), valid), { holds: false, reason: 'consent_withdrawn' });
    // A refusal stays a refusal whatever notice it was given under.
    assert.deepEqual(basisHolds(analytics, state('denied', '2026-01'), valid), { holds: false, reason: 'consent_denied' });
    assert.deepEqual(basisHolds(analytics, state('withdrawn', '2026-01'), valid), { holds: false, reason: 'consent_withdrawn' });
  });

  it('legitimate interests: hold unless the subject objected', () => {
    assert.equal(security.legalBasis, 'legitimate_interests');
    assert.deepEqual(basisHolds(security, undefined, valid), { holds: true });
    assert.deepEqual(basisHolds(security, state('granted', '2026-01', 'security'), valid), { holds: true });
    assert.deepEqual(basisHolds(security, state('denied', '2026-11', 'security'), valid), { holds: false, reason: 'objection' });
    assert.deepEqual(basisHolds(security, state('withdrawn', '2026-11', 'security'), valid), { holds: false, reason: 'objection' });
  });

  it('contract and the other bases need nothing from the ledger', () => {
    assert.equal(service.legalBasis, 'contract');
    for (const basis of ['contract', 'legal_obligation', 'vital_interests', 'public_task'] as const) {
      const p = purposeWith(basis);
      for (const st of [undefined, state('denied'), state('withdrawn'), state('granted', '2026-01')]) {
        assert.deepEqual(basisHolds(p, st, valid), { holds: true }, `${basis} with ${st?.status ?? 'no entry'}`);
      }
    }
  });

  it('only consent purposes depend on the notice version', () => {
    for (const basis of LEGAL_BASES) {
      const p = purposeWith(basis);
      const holds = basisHolds(p, state('granted', '2026-01'), valid).holds;
      assert.equal(holds, basis !== 'consent', basis);
    }
  });
});

describe('nextStatus and isUnchanged', () => {
  it('a yes is granted; a no after a yes is a withdrawal, otherwise a denial', () => {
    assert.equal(nextStatus(undefined, true), 'granted');
    assert.equal(nextStatus(state('denied'), true), 'granted');
    assert.equal(nextStatus(state('withdrawn'), true), 'granted');
    assert.equal(nextStatus(state('granted'), true), 'granted');
    assert.equal(nextStatus(undefined, false), 'denied');
    assert.equal(nextStatus(state('granted'), false), 'withdrawn');
    assert.equal(nextStatus(state('granted', '2026-01'), false), 'withdrawn');
    assert.equal(nextStatus(state('denied'), false), 'denied');
    assert.equal(nextStatus(state('withdrawn'), false), 'denied');
  });

  it('a repeated answer under the same notice changes nothing; a re-grant under a new notice does', () => {
    assert.equal(isUnchanged(undefined, true, '2026-11'), false);
    assert.equal(isUnchanged(undefined, false, '2026-11'), false);
    assert.equal(isUnchanged(state('granted', '2026-11'), true, '2026-11'), true);
    assert.equal(isUnchanged(state('granted', '2026-01'), true, '2026-11'), false);
    assert.equal(isUnchanged(state('granted'), false, '2026-11'), false);
    assert.equal(isUnchanged(state('denied'), true, '2026-11'), false);
    assert.equal(isUnchanged(state('withdrawn'), true, '2026-11'), false);
    assert.equal(isUnchanged(state('denied'), false, '2026-11'), true);
    assert.equal(isUnchanged(state('withdrawn'), false, '2026-06'), true);
  });

  it('recording only changes keeps the ledger consistent with the last answer', () => {
    fc.assert(
      fc.property(fc.array(fc.record({ granted: fc.boolean(), v: fc.constantFrom('2026-01', '2026-06', '2026-11') }), { maxLength: 30 }), (answers) => {
        let cur: ConsentState | undefined;
        for (const a of answers) {
          if (isUnchanged(cur, a.granted, a.v)) continue;
          cur = state(nextStatus(cur, a.granted), a.v);
        }
        const last = answers.at(-1);
        if (!last) return assert.equal(cur, undefined);
        assert.equal(cur!.status === 'granted', last.granted);
        if (last.granted) assert.equal(cur!.noticeVersion, last.v);
        const analytics = cfg.purpose('analytics')!;
        assert.equal(basisHolds(analytics, cur, valid).holds, last.granted && valid(last.v));
      }),
    );
  });
});

describe('latestStates', () => {
  it('keeps the entry with the greatest (time-ordered) id per purpose, whatever the row order', () => {
    const purposes = ['analytics', 'marketing', 'personalization'];
    fc.assert(
      fc.property(
        fc.array(fc.record({ purpose: fc.constantFrom(...purposes), status: fc.constantFrom<ConsentStatus>('granted', 'denied', 'withdrawn') }), { minLength: 1, maxLength: 40 }),
        fc.func(fc.integer()),
        (entries, order) => {
          const rows = entries.map((e, i) => ({ ...state(e.status, '2026-11', e.purpose), id: uuidv7(), at: i }));
          const expected = new Map<string, (typeof rows)[number]>();
          for (const r of rows) expected.set(r.purpose, r); // written in order, so the last one wins
          const shuffled = [...rows].sort((a, b) => order(a.id) - order(b.id));
          const got = latestStates(shuffled);
          assert.deepEqual([...got.keys()].sort(), [...expected.keys()].sort());
          for (const [p, r] of expected) {
            assert.equal(got.get(p)!.status, r.status, p);
            assert.equal(got.get(p)!.at, r.at, p);
          }
        },
      ),
    );
  });

  it('is empty for an empty ledger', () => {
    assert.equal(latestStates([]).size, 0);
  });
});

/** 8 numeric groups of an IPv6 address in any textual form (the WHATWG URL parser canonicalizes it). */
function groups6(ip: string): number[] {
  const host = new URL(`http://[${ip}]`).hostname.slice(1, -1);
  const [head = '', tail = ''] = host.split('::');
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const all = host.includes('::') ? [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t] : h;
  return all.map((g) => Number.parseInt(g, 16));
}

describe('truncateIp', () => {
  it('keeps the /24 of an IPv4 address', () => {
    assert.equal(truncateIp('192.168.1.77'), '192.168.1.0');
    assert.equal(truncateIp('8.8.8.8'), '8.8.8.0');
    assert.equal(truncateIp('10.0.0.0'), '10.0.0.0');
  });

  it('treats IPv4-mapped IPv6 (::ffff:a.b.c.d) as IPv4', () => {
    assert.equal(truncateIp('::ffff:203.0.113.9'), '203.0.113.0');
    assert.equal(truncateIp('::ffff:127.0.0.1'), '127.0.0.0');
  });

  it('keeps the /48 of an IPv6 address', () => {
    assert.equal(truncateIp('2001:db8:abcd:12:34:56:78:9a'), '2001:db8:abcd::');
    assert.equal(truncateIp('2001:db8:abcd:12::1'), '2001:db8:abcd::');
    for (const ip of ['2001:db8::1', '::1', '::', 'fe80::1:2:3:4']) {
      const t = truncateIp(ip);
      assert.ok(t !== null && isIPv6(t), `${ip} → ${t}`);
      assert.deepEqual(groups6(t), [...groups6(ip).slice(0, 3), 0, 0, 0, 0, 0], ip);
    }
  });

  it('counts an embedded IPv4 tail as two groups', () => {
    // 1:0:2:3:4:5:0607:0809 — its /48 is 1:0:2::
    const t = truncateIp('1::2:3:4:5:6.7.8.9');
    assert.ok(t !== null);
    assert.deepEqual(groups6(t), [1, 0, 2, 0, 0, 0, 0, 0], `got ${t}`);
  });

  it('any IPv6 address keeps exactly its first 48 bits', () => {
    fc.assert(
      fc.property(fc.ipV6(), (ip) => {
        fc.pre(!ip.startsWith('::ffff:'));
        const t = truncateIp(ip);
        assert.ok(t !== null && isIPv6(t), `${ip} → ${t}`);
        assert.deepEqual(groups6(t), [...groups6(ip).slice(0, 3), 0, 0, 0, 0, 0], `${ip} → ${t}`);
      }),
      { numRuns: 500 },
    );
  });

  it('any IPv4 address keeps exactly its first three octets', () => {
    fc.assert(
      fc.property(fc.ipV4(), (ip) => {
        const expected = `${ip.split('.').slice(0, 3).join('.')}.0`;
        assert.equal(truncateIp(ip), expected);
        assert.equal(truncateIp(`::ffff:${ip}`), expected);
      }),
    );
  });

  it('returns null for no address or a malformed one', () => {
    assert.equal(truncateIp(undefined), null);
    assert.equal(truncateIp(''), null);
    assert.equal(truncateIp('not-an-ip'), null);
    assert.equal(truncateIp('999.1.1.1'), null);
  });
});

describe('consentProof', () => {
  it('keeps a SHA-256 of the user agent, never the user agent itself', () => {
    const ua = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/126.0 Safari/537.36';
    const proof = consentProof(ua, '198.51.100.23');
    assert.equal(proof.uaHash, createHash('sha256').update(ua).digest('hex'));
    assert.match(proof.uaHash!, /^[0-9a-f]{64}$/);
    assert.ok(!JSON.stringify(proof).includes('Mozilla'));
    assert.equal(proof.ipTruncated, '198.51.100.0');
    assert.ok(!JSON.stringify(proof).includes('.23'));
    assert.notEqual(consentProof(`${ua} x`, undefined).uaHash, proof.uaHash);
  });

  it('is empty without a user agent or an address', () => {
    assert.deepEqual(consentProof(undefined, undefined), { uaHash: null, ipTruncated: null });
    assert.deepEqual(consentProof('', ''), { uaHash: null, ipTruncated: null });
  });
});
