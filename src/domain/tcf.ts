// IAB TCF v2.2 TC strings: decoded with the IAB's own library and mapped onto our purposes by the configuration.
import { TCString } from '@iabtechlabtcf/core';
import type { TcfMapping } from './privacy-config-types.ts';

/** TC strings are a few hundred bytes; a publisher-restricted one with many vendors stays well below this. */
export const MAX_TC_STRING_LENGTH = 8192;

export type TcfDecision = { ok: true; choices: Record<string, boolean> } | { ok: false; reason: string };

/**
 * The consent a TC string gives to each of our purposes that the mapping names. A purpose is granted only
 * when every TCF purpose mapped onto it is consented (and, with `vendorId`, our vendor too): a denial wins.
 * Purposes the mapping does not name are left out, so the caller records nothing for them.
 */
export function tcfChoices(tcString: string, mapping: TcfMapping): TcfDecision {
  if (tcString.length === 0 || tcString.length > MAX_TC_STRING_LENGTH) return { ok: false, reason: 'empty or too long' };
  let model;
  try {
    model = TCString.decode(tcString);
  } catch (err) {
    return { ok: false, reason: err instanceof Error ? err.message : 'cannot be decoded' };
  }
  if (Number(model.version) !== 2) return { ok: false, reason: `TC string version ${String(model.version)} is not 2` };
  // Policy version 4 is TCF v2.2; strings of v2.0/2.1 (policy 2, 3) are no longer valid signals since 2023.
  const policy = Number(model.policyVersion);
  if (!(policy >= 4)) return { ok: false, reason: `TCF policy version ${String(model.policyVersion)} is older than v2.2 (4)` };
  const vendorOk = mapping.vendorId === undefined || model.vendorConsents.has(mapping.vendorId);
  const choices: Record<string, boolean> = {};
  for (const [id, purposes] of Object.entries(mapping.purposes)) {
    const granted = vendorOk && model.purposeConsents.has(Number(id));
    for (const p of purposes) choices[p] = (choices[p] ?? true) && granted;
  }
  return { ok: true, choices };
}
