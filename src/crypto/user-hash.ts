// Identity verification for browser sources: the shop's server signs a userId, the browser passes the signature along.
import { createHmac, timingSafeEqual } from 'node:crypto';

/** What a shop's server computes: hex HMAC-SHA256 of the userId (as sent, numbers as decimal text) under the source's secret. */
export function userHash(secret: Buffer | string, userId: string): string {
  return createHmac('sha256', secret).update(userId, 'utf8').digest('hex');
}

const HEX_64 = /^[0-9a-fA-F]{64}$/;

/** True only for the exact hash of `userId`; anything that is not 64 hex characters is refused before hashing. */
export function userHashMatches(secret: Buffer | string, userId: string, given: unknown): boolean {
  if (typeof given !== 'string' || given.length !== 64 || !HEX_64.test(given)) return false;
  return timingSafeEqual(Buffer.from(userHash(secret, userId), 'hex'), Buffer.from(given, 'hex'));
}
