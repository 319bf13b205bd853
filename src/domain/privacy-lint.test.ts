// The privacy lint: the shipped configuration passes; each rule fires on the shipped configuration with one thing changed.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { DEFAULT_CONFIG_PATH } from '../services/config/config-loader.ts';
import { validatePrivacyConfig } from './privacy-config.ts';
import { findingFromConfigError, LINT_RULES, lintPrivacyConfig } from './privacy-lint.ts';
import type { LintFinding, LintOptions, LintRule } from './privacy-lint.ts';

interface RawTransfer {
  basis: string;
  derogation?: string;
}
interface RawRecipient {
  name: string;
  kind: string;
  country: string;
  transfer?: RawTransfer;
}
interface RawPurpose {
  key: string;
  name: { it: string; en: string };
  legalBasis: string;
  categories: string[];
  retentionDays?: number;
  recipients?: RawRecipient[];
  saleOrShare?: boolean;
}
interface RawEvent {
  category: string;
  properties?: Record<string, string>;
}
/** The parts of the YAML these tests change. */
interface RawConfig {
  categories: { key: string; name: { it: string; en: string } }[];
  purposes: RawPurpose[];
  trackingPlan: { events: Record<string, RawEvent>; traits: Record<string, string>; context: Record<string, string> };
  notice: { current: string; versions: { version: string; material: boolean }[] };
  destinations?: Record<string, unknown>[];
  [key: string]: unknown;
}

const SHIPPED_TEXT = readFileSync(DEFAULT_CONFIG_PATH, 'utf8');
// Through JSON: YAML aliases (`*product`) would otherwise share one object between events.
const shipped = (): RawConfig => JSON.parse(JSON.stringify(parse(SHIPPED_TEXT))) as RawConfig;

function purpose(raw: RawConfig, key: string): RawPurpose {
  const p = raw.purposes.find((x) => x.key === key);
  assert.ok(p, `purpose ${key} in the shipped configuration`);
  return p;
}

/** What `fiducia check` finds, before positions: the loader's errors if it refuses the file, else the lint. */
function check(change: (raw: RawConfig) => void, options?: LintOptions): LintFinding[] {
  const raw = shipped();
  change(raw);
  const v = validatePrivacyConfig(raw);
  return v.ok ? lintPrivacyConfig(v.config, options) : v.errors.map(findingFromConfigError);
}

/** The findings of one rule, as `path` strings. */
const pathsOf = (findings: readonly LintFinding[], rule: LintRule): string[] => findings.filter((f) => f.rule === rule).map((f) => f.path);

const SHIPPED_LOCATION = 'trackingPlan.context.location';

describe('the shipped configuration', () => {
  it('has no error, and one warning: precise location, classified so that it is dropped (allowed by a comment in the file)', () => {
    const findings = check(() => {});
    assert.deepEqual(
      findings.map((f) => [f.rule, f.severity, f.path]),
      [['unreachable-tracking-plan-entry', 'warning', SHIPPED_LOCATION]],
    );
  });

  it('every rule is documented with its severity', () => {
    const docs = readFileSync(new URL('../../docs/privacy-configuration.md', import.meta.url), 'utf8');
    for (const [id, rule] of Object.entries(LINT_RULES)) {
      if (id === 'yaml-syntax' || id === 'config-invalid') assert.ok(docs.includes(`\`${id}\``), `${id} in docs/privacy-configuration.md`);
      else assert.ok(docs.includes(`| \`${id}\` | ${rule.severity} |`), `${id} (${rule.severity}) in the table of docs/privacy-configuration.md`);
    }
  });
});

describe('special-category-without-explicit-consent', () => {
  it('a special category under a contract purpose is refused at load, under this rule', () => {
    const findings = check((raw) => purpose(raw, 'service').categories.push('user.sensitive.health'));
    assert.deepEqual(pathsOf(findings, 'special-category-without-explicit-consent'), ['purposes[0].categories[8]']);
    assert.ok(findings.every((f) => f.severity === 'error'), 'load errors are errors');
  });

  it('a prefix that sweeps special categories in is refused at load, under this rule', () => {
    const findings = check((raw) => purpose(raw, 'analytics').categories.push('user'));
    assert.deepEqual(pathsOf(findings, 'special-category-without-explicit-consent'), ['purposes[2].categories[7]']);
  });

  it('a consent purpose with a special category that a TC string can grant is an error at each TCF mapping of it', () => {
    const findings = check((raw) => {
      purpose(raw, 'personalization').categories.push('user.sensitive.health');
      raw.trackingPlan.traits['conditions'] = 'user.sensitive.health';
    });
    assert.deepEqual(pathsOf(findings, 'special-category-without-explicit-consent'), [
      'tcf.purposes["1"][1]',
      'tcf.purposes["5"][0]',
      'tcf.purposes["6"][0]',
      'tcf.purposes["11"][0]',
    ]);
    assert.match(findings[0]?.message ?? '', /explicit consent Art\. 9\(2\)\(a\)/);
  });

  it('a consent purpose of its own, outside the TCF mapping, is how special data is meant to be collected: nothing to report', () => {
    const findings = check((raw) => {
      raw.purposes.push({ key: 'wellness', name: { it: 'Benessere', en: 'Wellness' }, legalBasis: 'consent', categories: ['user.sensitive.health'], retentionDays: 365 });
      raw.trackingPlan.traits['conditions'] = 'user.sensitive.health';
    });
    assert.deepEqual(pathsOf(findings, 'special-category-without-explicit-consent'), []);
    assert.deepEqual(findings.map((f) => f.path), [SHIPPED_LOCATION]);
  });
});

describe('consent-purpose-without-retention', () => {
  it('a consent purpose without retentionDays is refused at load, under this rule', () => {
    const findings = check((raw) => delete purpose(raw, 'analytics').retentionDays);
    assert.deepEqual(pathsOf(findings, 'consent-purpose-without-retention'), ['purposes[2].retentionDays']);
  });

  it('a contract purpose without retentionDays is refused as config-invalid (the rule is about consent)', () => {
    const findings = check((raw) => delete purpose(raw, 'service').retentionDays);
    assert.deepEqual(pathsOf(findings, 'config-invalid'), ['purposes[0].retentionDays']);
  });

  it('more than ten years under consent is no retention period in effect: an error', () => {
    const findings = check((raw) => (purpose(raw, 'analytics').retentionDays = 36500));
    assert.deepEqual(pathsOf(findings, 'consent-purpose-without-retention'), ['purposes[2].retentionDays']);
    assert.equal(findings.find((f) => f.rule === 'consent-purpose-without-retention')?.severity, 'error');
  });

  it('ten years under contract is not this rule’s business', () => {
    const findings = check((raw) => (purpose(raw, 'service').retentionDays = 4000));
    assert.deepEqual(findings.map((f) => f.path), [SHIPPED_LOCATION]);
  });
});

describe('consent-retention-over-ceiling', () => {
  it('a consent purpose over 730 days is a warning', () => {
    const findings = check((raw) => (purpose(raw, 'advertising').retentionDays = 1000));
    assert.deepEqual(pathsOf(findings, 'consent-retention-over-ceiling'), ['purposes[5].retentionDays']);
    assert.equal(findings.find((f) => f.rule === 'consent-retention-over-ceiling')?.severity, 'warning');
  });

  it('the ceiling is an option: at 365 days every shipped consent purpose is over it', () => {
    const findings = check(() => {}, { consentRetentionCeilingDays: 365 });
    assert.deepEqual(pathsOf(findings, 'consent-retention-over-ceiling'), [2, 3, 4, 5].map((i) => `purposes[${i}].retentionDays`));
  });
});

describe('transfer-without-basis', () => {
  it('a US recipient without a transfer basis is refused at load, under this rule', () => {
    const findings = check((raw) => delete purpose(raw, 'advertising').recipients?.[1]?.transfer);
    assert.deepEqual(pathsOf(findings, 'transfer-without-basis'), ['purposes[5].recipients[1].transfer']);
  });

  it('a destination in a country without adequacy and without a basis is refused at load, under this rule', () => {
    const findings = check((raw) => {
      raw.destinations = [{ id: 'crm', kind: 'webhook', purposes: ['marketing'], endpoint: 'https://crm.example.com/hook', secretEnv: 'CRM_SECRET', country: 'IN' }];
    });
    assert.deepEqual(pathsOf(findings, 'transfer-without-basis'), ['destinations[0].transfer']);
  });

  it('a misspelt country code is a plain config-invalid error', () => {
    const findings = check((raw) => {
      const r = purpose(raw, 'marketing').recipients?.[0];
      if (r) r.country = 'UK';
    });
    assert.deepEqual(pathsOf(findings, 'config-invalid'), ['purposes[4].recipients[0].country']);
    assert.deepEqual(pathsOf(findings, 'transfer-without-basis'), []);
  });
});

describe('transfer-on-derogation', () => {
  it('a standing recipient on an Art. 49 derogation is a warning', () => {
    const findings = check((raw) => {
      const r = purpose(raw, 'advertising').recipients?.[1];
      if (r) r.transfer = { basis: 'derogation', derogation: 'explicit_consent' };
    });
    assert.deepEqual(pathsOf(findings, 'transfer-on-derogation'), ['purposes[5].recipients[1].transfer.basis']);
    assert.match(findings.find((f) => f.rule === 'transfer-on-derogation')?.message ?? '', /occasional/);
  });
});

describe('unreachable-tracking-plan-entry', () => {
  it('a trait of a category no purpose reads is a warning', () => {
    const findings = check((raw) => (raw.trackingPlan.traits['religion'] = 'user.sensitive.religion'));
    assert.deepEqual(pathsOf(findings, 'unreachable-tracking-plan-entry'), ['trackingPlan.traits.religion', SHIPPED_LOCATION]);
  });

  it('an event whose own category no purpose reads is reported once, on its category', () => {
    const findings = check((raw) => {
      raw.trackingPlan.events['Store Visited'] = { category: 'user.location.precise', properties: { store: 'user.behavior.browsing' } };
    });
    assert.deepEqual(pathsOf(findings, 'unreachable-tracking-plan-entry'), ['trackingPlan.events["Store Visited"].category', SHIPPED_LOCATION]);
    assert.match(findings[0]?.message ?? '', /the event is always dropped, with its property/);
  });

  it('system.* is not personal data: any purpose may see it, so it is never unreachable', () => {
    const findings = check((raw) => (raw.trackingPlan.context['locale'] = 'system.technical'));
    assert.deepEqual(findings.map((f) => f.path), [SHIPPED_LOCATION]);
  });
});

describe('purpose-without-collected-data', () => {
  it('a purpose whose categories no tracking-plan entry assigns is a warning', () => {
    const findings = check((raw) => {
      raw.categories.push({ key: 'user.survey', name: { it: 'Sondaggi', en: 'Surveys' } });
      raw.purposes.push({ key: 'research', name: { it: 'Ricerca', en: 'Research' }, legalBasis: 'consent', categories: ['user.survey'], retentionDays: 365 });
    });
    assert.deepEqual(pathsOf(findings, 'purpose-without-collected-data'), ['purposes[6].categories']);
  });
});

describe('notice-versions-out-of-order', () => {
  it('versions listed out of date order are an error at the one that comes too late', () => {
    const findings = check((raw) => {
      raw.notice.versions = [
        { version: '2026-01', material: false },
        { version: '2026-11', material: false },
        { version: '2026-06', material: true },
      ];
      raw.notice.current = '2026-06';
    });
    assert.deepEqual(pathsOf(findings, 'notice-versions-out-of-order'), ['notice.versions[2].version']);
  });

  it('a current version that is not the last one is refused at load, under this rule', () => {
    const findings = check((raw) => (raw.notice.current = '2026-06'));
    assert.deepEqual(pathsOf(findings, 'notice-versions-out-of-order'), ['notice.current']);
  });

  it('labels that are not numbers or dates are left alone', () => {
    const findings = check((raw) => {
      raw.notice.versions = [
        { version: 'spring', material: false },
        { version: 'autumn', material: true },
      ];
      raw.notice.current = 'autumn';
    });
    assert.deepEqual(findings.map((f) => f.path), [SHIPPED_LOCATION]);
  });

  it('semantic versions compare as numbers (1.10 after 1.9)', () => {
    const findings = check((raw) => {
      raw.notice.versions = ['v1.2', 'v1.9', 'v1.10'].map((version) => ({ version, material: false }));
      raw.notice.current = 'v1.10';
    });
    assert.deepEqual(pathsOf(findings, 'notice-versions-out-of-order'), []);
  });
});

describe('sale-or-share-without-consent', () => {
  it('a sale/share purpose under legitimate interests is an error', () => {
    const findings = check((raw) => (purpose(raw, 'security').saleOrShare = true));
    assert.deepEqual(pathsOf(findings, 'sale-or-share-without-consent'), ['purposes[1].legalBasis']);
  });
});

describe('third-party-without-sale-or-share', () => {
  it('a consent purpose disclosing to a third party without saleOrShare is a warning', () => {
    const findings = check((raw) => {
      const r = purpose(raw, 'marketing').recipients?.[0];
      if (r) r.kind = 'third_party';
    });
    assert.deepEqual(pathsOf(findings, 'third-party-without-sale-or-share'), ['purposes[4].recipients[0].kind']);
  });

  it('a third-party destination is a warning for its consent purposes, not for its contract ones', () => {
    const destination = (id: string, purposes: string[]) => ({
      id,
      kind: 'webhook',
      recipientKind: 'third_party',
      purposes,
      endpoint: 'https://partner.example.com/hook',
      secretEnv: 'PARTNER_SECRET',
      country: 'DE',
    });
    const findings = check((raw) => (raw.destinations = [destination('partner', ['analytics']), destination('carrier', ['service'])]));
    assert.deepEqual(pathsOf(findings, 'third-party-without-sale-or-share'), ['destinations[0].recipientKind']);
  });
});

describe('config-invalid', () => {
  it('any other load error keeps the generic rule', () => {
    const findings = check((raw) => (raw['colour'] = 'blue'));
    assert.deepEqual(findings.map((f) => [f.rule, f.path]), [['config-invalid', 'colour']]);
  });

  it('a rule name the catalogue does not know is not passed through', () => {
    assert.equal(findingFromConfigError({ path: 'x', message: 'm', rule: 'made-up' }).rule, 'config-invalid');
  });
});
