// The use rule of src/domain/policy.ts written as a Cedar policy set, generated from the same configuration, and
// a workload of decisions both engines evaluate (bench/reads.ts measures them side by side and checks they agree).
import { createRequire } from 'node:module';
import type { ConsentStatus } from '../src/domain/consent.ts';
import { DENY_REASONS, type CallerRole, type DenyReason, type PolicyCaller, type PolicyDecision, type SubjectConsent, type SubjectState } from '../src/domain/policy.ts';
import type { CompiledConfig } from '../src/domain/privacy-config.ts';

// The Node build of cedar-wasm is CommonJS and loads its .wasm synchronously.
const require = createRequire(import.meta.url);
type Cedar = typeof import('@cedar-policy/cedar-wasm/nodejs');
export const cedar = require('@cedar-policy/cedar-wasm/nodejs') as Cedar;
type StatefulCall = Parameters<Cedar['statefulIsAuthorized']>[0];
type EntityJson = StatefulCall['entities'][number];

const POLICY_SET_ID = 'fiducia-use';
const ent = (type: string, id: string) => ({ type, id });

/** Cedar policies for the use rule: one permit per (purpose, covered category prefix), one forbid per deny reason. */
export function cedarPolicies(cfg: CompiledConfig): Record<string, string> {
  const versions = cfg.config.notice.versions;
  const lastMaterial = Math.max(0, versions.reduce((last, v, i) => (v.material ? i : last), -1));
  const use = 'principal, action == Action::"use", resource';
  const consent = 'context.purpose.basis == "consent" && context has consent';
  const out: Record<string, string> = {
    // system.* is not personal data: covered for every purpose (the forbids below still apply).
    'cover:system': `permit (${use} in Category::"system");`,
    // A purpose the configuration does not know has no entity, so no `basis`.
    unknown_purpose: `forbid (${use}) unless { context.purpose has basis };`,
    caller_not_allowed: `forbid (${use}) unless { principal.role == "admin" || principal.role == "dpo" || principal.role == "system" || (principal.role == "service" && principal.purposes.contains(context.purpose)) };`,
    erased: `forbid (${use}) when { context.erased };`,
    restricted: `forbid (${use}) when { context.restricted };`,
    objection: `forbid (${use}) when { context.objections.contains(context.purpose) };`,
    no_consent: `forbid (${use}) when { context.purpose.basis == "consent" && !(context has consent) };`,
    consent_withdrawn: `forbid (${use}) when { ${consent} && context.consent.status == "withdrawn" };`,
    consent_denied: `forbid (${use}) when { ${consent} && context.consent.status == "denied" };`,
    // Unknown versions are -1; a consent holds from the last material version on.
    notice_outdated: `forbid (${use}) when { ${consent} && context.consent.noticeIndex < ${lastMaterial} };`,
    'objection:legitimate_interests': `forbid (${use}) when { context.purpose.basis == "legitimate_interests" && context has consent && context.consent.status != "granted" };`,
    special_category_needs_explicit_consent: `forbid (${use} in Category::"user.sensitive") unless { context has consent && context.consent.status == "granted" && context.consent.explicit };`,
  };
  for (const p of cfg.config.purposes) {
    for (const entry of p.categories) out[`cover:${p.key}:${entry}`] = `permit (${use} in Category::"${entry}") when { context.purpose == Purpose::"${p.key}" };`;
  }
  return out;
}

/** Category entities with their parent chain (`user.preference.interests` in `user.preference` in `user`), built once. */
function categoryEntities(category: string): EntityJson[] {
  const parts = category.split('.');
  const out: EntityJson[] = [];
  for (let n = parts.length; n >= 1; n--) {
    const id = parts.slice(0, n).join('.');
    out.push({ uid: ent('Category', id), attrs: {}, parents: n > 1 ? [ent('Category', parts.slice(0, n - 1).join('.'))] : [] });
  }
  return out;
}

export interface Decision {
  purpose: string;
  category: string;
  subject: SubjectState;
  caller: PolicyCaller;
  cedarCall: StatefulCall;
}

/** A deterministic pseudo-random workload (same for both engines): mostly ordinary requests, some of every denial. */
export function decisionWorkload(cfg: CompiledConfig, n: number, seed = 42): Decision[] {
  let s = seed >>> 0;
  const rnd = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const purposes = cfg.config.purposes.map((p) => p.key);
  const categories = [...cfg.config.categories.map((c) => c.key), 'unclassified'];
  const versions = cfg.config.notice.versions.map((v) => v.version);
  const noticeIndex = new Map(versions.map((v, i) => [v, i]));
  const categoryCache = new Map(categories.map((c) => [c, categoryEntities(c)]));
  const purposeEntity = new Map(cfg.config.purposes.map((p) => [p.key, { uid: ent('Purpose', p.key), attrs: { basis: p.legalBasis }, parents: [] } as EntityJson]));
  const out: Decision[] = [];
  for (let i = 0; i < n; i++) {
    const purpose = rnd() < 0.02 ? 'unknown_purpose_x' : pick(purposes);
    const category = pick(categories);
    const consents = new Map<string, SubjectConsent>();
    for (const p of purposes) {
      if (rnd() < 0.25) continue;
      const status: ConsentStatus = rnd() < 0.75 ? 'granted' : pick(['denied', 'withdrawn'] as const);
      consents.set(p, { purpose: p, status, noticeVersion: rnd() < 0.9 ? pick(versions.slice(1)) : pick([versions[0]!, '1999-01']), method: 'banner', at: 1, explicit: rnd() < 0.3 });
    }
    const subject: SubjectState = { consents, restricted: rnd() < 0.05, erased: rnd() < 0.03, objections: new Set(rnd() < 0.1 ? [pick(purposes)] : []) };
    const role: CallerRole = pick(['admin', 'dpo', 'service', 'service', 'service', 'analyst'] as const);
    const caller: PolicyCaller = { role, purposes: role === 'service' ? [pick(purposes), ...(rnd() < 0.5 ? [pick(purposes)] : [])] : [] };
    const c = consents.get(purpose);
    const entities: EntityJson[] = [
      { uid: ent('Caller', 'caller'), attrs: { role, purposes: caller.purposes.map((p) => ({ __entity: ent('Purpose', p) })) }, parents: [] },
      ...categoryCache.get(category)!,
      ...(purposeEntity.has(purpose) ? [purposeEntity.get(purpose)!] : []),
    ];
    const context: StatefulCall['context'] = {
      purpose: { __entity: ent('Purpose', purpose) },
      erased: subject.erased,
      restricted: subject.restricted,
      objections: [...subject.objections].map((p) => ({ __entity: ent('Purpose', p) })),
      ...(c ? { consent: { status: c.status, noticeIndex: noticeIndex.get(c.noticeVersion) ?? -1, explicit: c.explicit } } : {}),
    };
    out.push({
      purpose,
      category,
      subject,
      caller,
      cedarCall: { principal: ent('Caller', 'caller'), action: ent('Action', 'use'), resource: ent('Category', category), context, preparsedPolicySetId: POLICY_SET_ID, entities },
    });
  }
  return out;
}

export function prepareCedar(cfg: CompiledConfig): void {
  const r = cedar.preparsePolicySet(POLICY_SET_ID, { staticPolicies: cedarPolicies(cfg) });
  if (r.type !== 'success') throw new Error(`cedar policies do not parse: ${JSON.stringify(r.errors)}`);
}

/** Cedar's answer as allow, or the set of reasons (forbid ids) that denied. */
export function cedarDecide(d: Decision): { allow: boolean; reasons: string[] } {
  const r = cedar.statefulIsAuthorized(d.cedarCall);
  if (r.type !== 'success') throw new Error(`cedar failed: ${JSON.stringify(r.errors)}`);
  return { allow: r.response.decision === 'allow', reasons: r.response.diagnostics.reason };
}

/**
 * Whether the two answers agree. Cedar reports every forbid that matched, Fiducia the first reason in its order;
 * "no permit" (category not covered, unknown purpose) is Cedar's default deny and carries no reason.
 */
export function agrees(ours: PolicyDecision, theirs: { allow: boolean; reasons: string[] }): boolean {
  if (ours.allow !== theirs.allow) return false;
  if (ours.allow) return true;
  const reason: DenyReason = ours.reason;
  if (reason === 'category_not_in_purpose' || reason === 'unknown_purpose') return true;
  const named = theirs.reasons.map((r) => (r === 'objection:legitimate_interests' ? 'objection' : r));
  return named.includes(reason) && named.every((r) => (DENY_REASONS as readonly string[]).includes(r));
}
