// Lints a validated privacy configuration for what a DPO would question although the server accepts it (`fiducia check`).
import { entryCovers, formatConfigPath, isPersonalCategory, isSpecialCategory } from './privacy-config.ts';
import type { ConfigError, PathSegment } from './privacy-config.ts';
import type { EventPlan, PrivacyConfig, Purpose } from './privacy-config-types.ts';

export type LintSeverity = 'error' | 'warning';

/**
 * Every rule, with its severity: ids are stable (CI configurations and `fiducia-check: allow` comments name them).
 * `yaml-syntax` and `config-invalid` are the loader's refusals; four more rules also cover load errors of their kind.
 */
export const LINT_RULES = {
  'yaml-syntax': { severity: 'error', summary: 'the file is not well-formed YAML' },
  'config-invalid': { severity: 'error', summary: 'the server would refuse the file at start (shape or semantic validation)' },
  'special-category-without-explicit-consent': {
    severity: 'error',
    summary: 'an Art. 9 special category could be read under something other than explicit consent (a non-consent basis, a prefix sweeping it in, a TC string)',
  },
  'consent-purpose-without-retention': { severity: 'error', summary: 'a consent-based purpose has no retentionDays, or one longer than ten years' },
  'consent-retention-over-ceiling': { severity: 'warning', summary: 'a consent-based purpose keeps data longer than the ceiling (default 730 days)' },
  'transfer-without-basis': { severity: 'error', summary: 'a recipient or destination outside the EEA has no acceptable Chapter V basis' },
  'transfer-on-derogation': { severity: 'warning', summary: 'a standing recipient or destination relies on an Art. 49 derogation, meant for occasional transfers' },
  'unreachable-tracking-plan-entry': { severity: 'warning', summary: 'a tracking-plan entry names a personal category that no purpose reads: the field is always dropped' },
  'purpose-without-collected-data': { severity: 'warning', summary: 'no tracking-plan entry assigns any category the purpose reads: it never receives data' },
  'notice-versions-out-of-order': { severity: 'error', summary: 'notice versions are not listed oldest first' },
  'sale-or-share-without-consent': { severity: 'error', summary: 'a saleOrShare purpose is not consent-based, so Global Privacy Control cannot stop it' },
  'third-party-without-sale-or-share': {
    severity: 'warning',
    summary: 'a consent-based purpose discloses to a third party (an independent controller) without saleOrShare: true',
  },
} as const satisfies Record<string, { severity: LintSeverity; summary: string }>;

export type LintRule = keyof typeof LINT_RULES;

export interface LintFinding {
  rule: LintRule;
  severity: LintSeverity;
  /** Like `purposes[2].retentionDays` (see `formatConfigPath`); empty for the file as a whole. */
  path: string;
  message: string;
}

export interface LintOptions {
  /** Longest retention, in days, a consent-based purpose may have without a warning; default 730 (24 months). */
  consentRetentionCeilingDays?: number;
}

export const DEFAULT_CONSENT_RETENTION_CEILING_DAYS = 730;
/** Past ten years, the longest keeping period the law commonly imposes (accounting records), a consent purpose has none in effect. */
export const CONSENT_RETENTION_LIMIT_DAYS = 3650;

export function isLintRule(id: string): id is LintRule {
  return Object.hasOwn(LINT_RULES, id);
}

const finding = (rule: LintRule, at: readonly PathSegment[], message: string): LintFinding => ({
  rule,
  severity: LINT_RULES[rule].severity,
  path: formatConfigPath(at),
  message,
});

/** A loader error as a finding: under the rule it names, else `config-invalid`. Always an error: the server refuses the file. */
export function findingFromConfigError(e: ConfigError): LintFinding {
  return { rule: e.rule !== undefined && isLintRule(e.rule) ? e.rule : 'config-invalid', severity: 'error', path: e.path, message: e.message };
}

/** Every finding for a configuration that passed validation, rule by rule. Pure. */
export function lintPrivacyConfig(config: PrivacyConfig, options: LintOptions = {}): LintFinding[] {
  return [
    ...specialCategoryFindings(config),
    ...retentionFindings(config, options.consentRetentionCeilingDays ?? DEFAULT_CONSENT_RETENTION_CEILING_DAYS),
    ...transferFindings(config),
    ...unreachableEntryFindings(config),
    ...idlePurposeFindings(config),
    ...noticeOrderFindings(config),
    ...saleOrShareFindings(config),
  ];
}

const specialsOf = (p: Purpose): string[] => p.categories.filter(isSpecialCategory);

/**
 * The loader already refuses a special category under a non-consent basis or swept in by a prefix. What is left is the
 * TC string: it records consent to IAB purposes, not the express, separate statement Art. 9(2)(a) asks for.
 */
function specialCategoryFindings(config: PrivacyConfig): LintFinding[] {
  const out: LintFinding[] = [];
  for (const [id, keys] of Object.entries(config.tcf?.purposes ?? {})) {
    keys.forEach((key, i) => {
      const purpose = config.purposes.find((p) => p.key === key);
      const specials = purpose === undefined ? [] : specialsOf(purpose);
      if (specials.length === 0) return;
      out.push(
        finding(
          'special-category-without-explicit-consent',
          ['tcf', 'purposes', id, i],
          `purpose "${key}" reads special categories (${specials.join(', ')}), but a TC string can grant it: TCF consent is not ` +
            'the explicit consent Art. 9(2)(a) requires; ask for that purpose on its own and leave it out of tcf.purposes',
        ),
      );
    });
  }
  return out;
}

function retentionFindings(config: PrivacyConfig, ceiling: number): LintFinding[] {
  const out: LintFinding[] = [];
  config.purposes.forEach((p, i) => {
    if (p.legalBasis !== 'consent') return;
    const at = ['purposes', i, 'retentionDays'];
    const years = (p.retentionDays / 365).toFixed(1);
    if (p.retentionDays > CONSENT_RETENTION_LIMIT_DAYS) {
      out.push(
        finding(
          'consent-purpose-without-retention',
          at,
          `consent-based purpose "${p.key}" keeps data ${p.retentionDays} days (${years} years): longer than any keeping period the law ` +
            `imposes (${CONSENT_RETENTION_LIMIT_DAYS} days), so in effect no retention period; set how long the purpose really needs the data`,
        ),
      );
    } else if (p.retentionDays > ceiling) {
      out.push(
        finding(
          'consent-retention-over-ceiling',
          at,
          `consent-based purpose "${p.key}" keeps data ${p.retentionDays} days (${years} years), more than ${ceiling}; ` +
            'profiling and marketing data are usually kept 12 to 24 months (say why in a comment, or lower it)',
        ),
      );
    }
  });
  return out;
}

/** Art. 49 derogations are for occasional transfers (EDPB Guidelines 2/2018); a standing recipient is not occasional. */
function transferFindings(config: PrivacyConfig): LintFinding[] {
  const out: LintFinding[] = [];
  const check = (who: string, transfer: { basis: string; derogation?: string | undefined } | undefined, at: PathSegment[]) => {
    if (transfer?.basis !== 'derogation') return;
    const consent =
      transfer.derogation === 'explicit_consent' ? '; explicit_consent would also need each person’s consent to this transfer, which Fiducia does not ask for' : '';
    out.push(
      finding(
        'transfer-on-derogation',
        [...at, 'transfer', 'basis'],
        `${who} receives data as a matter of course, but an Art. 49 derogation covers only occasional transfers: ` +
          `use an adequacy decision, standard_contractual_clauses or binding_corporate_rules${consent}`,
      ),
    );
  };
  config.purposes.forEach((p, i) => p.recipients.forEach((r, j) => check(`recipient "${r.name}" of "${p.key}"`, r.transfer, ['purposes', i, 'recipients', j])));
  config.destinations.forEach((d, i) => check(`destination "${d.id}"`, d.transfer, ['destinations', i]));
  return out;
}

/** One category assignment of the tracking plan, with where it is written. */
interface PlanEntry {
  at: PathSegment[];
  category: string;
  /** Set for an event's own category: the properties that are dropped with the event. */
  properties?: number;
}

function planEntries(config: PrivacyConfig): PlanEntry[] {
  const plan = config.trackingPlan;
  const out: PlanEntry[] = [];
  const event = (ep: EventPlan, at: PathSegment[]) => {
    out.push({ at: [...at, 'category'], category: ep.category, properties: Object.keys(ep.properties).length });
    for (const [name, category] of Object.entries(ep.properties)) out.push({ at: [...at, 'properties', name], category });
  };
  for (const [name, ep] of Object.entries(plan.events)) event(ep, ['trackingPlan', 'events', name]);
  for (const kind of ['page', 'screen', 'group'] as const) event(plan[kind], ['trackingPlan', kind]);
  for (const [name, category] of Object.entries(plan.traits)) out.push({ at: ['trackingPlan', 'traits', name], category });
  for (const [key, category] of Object.entries(plan.context)) out.push({ at: ['trackingPlan', 'context', key], category });
  return out;
}

const readBy = (config: PrivacyConfig, category: string): boolean => config.purposes.some((p) => p.categories.some((e) => entryCovers(e, category)));

/** A personal category that no purpose reads is dropped on arrival (`no_purpose`), and an event of one loses every property. */
function unreachableEntryFindings(config: PrivacyConfig): LintFinding[] {
  const out: LintFinding[] = [];
  for (const entry of planEntries(config)) {
    if (!isPersonalCategory(entry.category) || readBy(config, entry.category)) continue;
    const why = isSpecialCategory(entry.category) ? ' (an Art. 9 special category: only a consent-based purpose may list it)' : '';
    const event =
      entry.properties === undefined
        ? 'the field is always dropped'
        : `the event is always dropped${entry.properties === 0 ? '' : `, with its ${entry.properties === 1 ? 'property' : `${entry.properties} properties`}`}`;
    out.push(
      finding(
        'unreachable-tracking-plan-entry',
        entry.at,
        `no purpose reads "${entry.category}"${why}: ${event}; add the category to the purpose that needs it, or, if dropping it is the point, say so with a "fiducia-check: allow" comment`,
      ),
    );
  }
  return out;
}

/** A purpose the tracking plan never feeds is still shown in the notice and asked for in the banner. */
function idlePurposeFindings(config: PrivacyConfig): LintFinding[] {
  const assigned = [...new Set(planEntries(config).map((e) => e.category))];
  const out: LintFinding[] = [];
  config.purposes.forEach((p, i) => {
    if (assigned.some((c) => p.categories.some((e) => entryCovers(e, c)))) return;
    out.push(
      finding(
        'purpose-without-collected-data',
        ['purposes', i, 'categories'],
        `no tracking-plan entry assigns any category purpose "${p.key}" reads (${p.categories.join(', ')}): it never receives data, ` +
          'yet people are told about it (and asked for consent, if it is consent-based)',
      ),
    );
  });
  return out;
}

/** `2026-01`, `2026-01-15`, `v1.2`, `3`: dotted or dashed numbers compare; labels that are not are left alone. */
function versionNumbers(label: string): number[] | undefined {
  return /^v?\d+([.\-_]\d+)*$/i.test(label) ? label.replace(/^v/i, '').split(/[.\-_]/).map(Number) : undefined;
}

function compareNumbers(a: readonly number[], b: readonly number[]): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return (a[i] ?? 0) - (b[i] ?? 0);
  return a.length - b.length;
}

/** Consent validity is read from the list's order (a material version invalidates those before it), so the order must be time's. */
function noticeOrderFindings(config: PrivacyConfig): LintFinding[] {
  const out: LintFinding[] = [];
  let previous: { label: string; numbers: number[] } | undefined;
  config.notice.versions.forEach((v, i) => {
    const numbers = versionNumbers(v.version);
    if (numbers === undefined) return;
    if (previous !== undefined && compareNumbers(previous.numbers, numbers) > 0) {
      out.push(
        finding(
          'notice-versions-out-of-order',
          ['notice', 'versions', i, 'version'],
          `"${v.version}" is listed after "${previous.label}": versions go oldest first, and which consents still hold is decided by that order`,
        ),
      );
    }
    previous = { label: v.version, numbers };
  });
  return out;
}

/**
 * GPC denies consent-based saleOrShare purposes only (src/services/consent/consent.ts), so a sale/share purpose on another
 * basis ignores it; and a consent purpose that discloses to a third party without the flag is sharing GPC cannot stop.
 */
function saleOrShareFindings(config: PrivacyConfig): LintFinding[] {
  const out: LintFinding[] = [];
  config.purposes.forEach((p, i) => {
    if (p.saleOrShare && p.legalBasis !== 'consent') {
      out.push(
        finding(
          'sale-or-share-without-consent',
          ['purposes', i, 'legalBasis'],
          `purpose "${p.key}" sells or shares data under ${p.legalBasis}: Global Privacy Control and a refusal cannot stop it; base it on consent`,
        ),
      );
    }
    if (p.legalBasis !== 'consent' || p.saleOrShare) return;
    p.recipients.forEach((r, j) => {
      if (r.kind !== 'third_party') return;
      out.push(thirdPartyFinding(`recipient "${r.name}"`, [p.key], ['purposes', i, 'recipients', j, 'kind']));
    });
  });
  config.destinations.forEach((d, i) => {
    if (d.recipientKind !== 'third_party') return;
    const unflagged = d.purposes.filter((key) => config.purposes.some((p) => p.key === key && p.legalBasis === 'consent' && !p.saleOrShare));
    if (unflagged.length > 0) out.push(thirdPartyFinding(`destination "${d.id}"`, unflagged, ['destinations', i, 'recipientKind']));
  });
  return out;
}

function thirdPartyFinding(who: string, purposes: readonly string[], at: PathSegment[]): LintFinding {
  const names = purposes.map((k) => `"${k}"`).join(', ');
  return finding(
    'third-party-without-sale-or-share',
    at,
    `${who} is a third party (a controller of its own), so giving it data of ${names} is sharing; mark the purpose saleOrShare: true ` +
      'so that Global Privacy Control objects to it, or make the recipient a processor if it acts on your behalf',
  );
}

export function countBySeverity(findings: readonly LintFinding[]): { errors: number; warnings: number } {
  const errors = findings.filter((f) => f.severity === 'error').length;
  return { errors, warnings: findings.length - errors };
}
