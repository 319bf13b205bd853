// Builds real TCF v2.2 TC strings for tests with the IAB library and a minimal in-memory vendor list (no network).
import { GVL, TCModel, TCString } from '@iabtechlabtcf/core';

function vendorList(vendorIds: readonly number[], policyVersion: number) {
  const purposes = Object.fromEntries(Array.from({ length: 11 }, (_, i) => [i + 1, { id: i + 1, name: `Purpose ${i + 1}`, description: '', illustrations: [] }]));
  const vendor = (id: number) => ({
    id,
    name: `Vendor ${id}`,
    purposes: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11],
    legIntPurposes: [],
    flexiblePurposes: [],
    specialPurposes: [],
    features: [],
    specialFeatures: [],
    usesCookies: true,
    cookieRefresh: false,
    usesNonCookieAccess: false,
    cookieMaxAgeSeconds: 3600,
    deviceStorageDisclosureUrl: 'https://vendor.example/storage.json',
    urls: [],
  });
  return {
    gvlSpecificationVersion: 3,
    vendorListVersion: 100,
    tcfPolicyVersion: policyVersion,
    lastUpdated: '2026-01-01T00:00:00Z',
    purposes,
    specialPurposes: {},
    features: {},
    specialFeatures: {},
    dataCategories: {},
    stacks: {},
    vendors: Object.fromEntries(vendorIds.map((id) => [id, vendor(id)])),
  };
}

/** A TC string whose user consented to `purposes` (TCF ids) and to `vendors`. */
export function tcString(purposes: readonly number[], vendors: readonly number[] = [755], policyVersion = 5): string {
  const model = new TCModel(new GVL(vendorList([755, 1000, ...vendors], policyVersion) as never));
  model.cmpId = 10;
  model.cmpVersion = 1;
  model.consentScreen = 1;
  model.policyVersion = policyVersion;
  model.purposeConsents.set([...purposes]);
  model.vendorConsents.set([...vendors]);
  return TCString.encode(model);
}
