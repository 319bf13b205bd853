// What an analyst may learn from a segment's member count: a k-anonymity threshold that strangers cannot fill.

/** Smallest member count shown to an analyst: a group smaller than this points at people. */
export const ANALYST_MINIMUM_COUNT = 5;

/**
 * Identity links a stranger holding only public (browser) keys cannot create: asserted by a server source, by a
 * `userHash` the shop's server signed, entered by a rights request, or stored before assertions were recorded.
 * `anonymous` is missing on purpose: any visitor can mint anonymousIds by the thousand.
 */
export const VOUCHED_ASSERTIONS = ['server', 'verified_hash', 'rights_request', 'legacy'] as const;
export type VouchedAssertion = (typeof VOUCHED_ASSERTIONS)[number];

export type AnalystCount = { count: number; aggregateOnly: true } | { count: null; belowMinimum: number; aggregateOnly: true };

/**
 * The count an analyst sees. `vouched` is the number of members with a vouched identity, or any number at least
 * the minimum. The threshold is applied to it, not to `members`: members made through a public key cannot lift a
 * small group over the threshold, and once enough vouched members are in, the total (fakes included) hides no small
 * group — subtracting the fakes one made leaves at least the minimum.
 */
export function analystCount(members: number, vouched: number): AnalystCount {
  return members >= ANALYST_MINIMUM_COUNT && vouched >= ANALYST_MINIMUM_COUNT
    ? { count: members, aggregateOnly: true }
    : { count: null, belowMinimum: ANALYST_MINIMUM_COUNT, aggregateOnly: true };
}
