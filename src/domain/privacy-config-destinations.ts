// The `destinations` block of the privacy configuration: its shape, its rules, and the Chapter V check shared with purpose recipients.
import { BlockList, isIP } from 'node:net';
import { Type } from '@sinclair/typebox';
import type { Static } from '@sinclair/typebox';
import { didYouMean } from './edit-distance.ts';
import { Closed, Country, entryCovers, oneOf, Opt, Text } from './privacy-config-shared.ts';
import type { PathSegment, SemanticErrors } from './privacy-config-shared.ts';
import { TRANSFER_BASES, TRANSFER_DEROGATIONS, UNCLASSIFIED } from './privacy-config-types.ts';
import type { Destination, TransferSafeguard } from './privacy-config-types.ts';
import { checkTransfer, isoCodeFor } from './transfers.ts';

export const TransferSchema = Closed({
  basis: oneOf(TRANSFER_BASES),
  derogation: Opt(oneOf(TRANSFER_DEROGATIONS)),
  reference: Opt(Type.String({ minLength: 1, maxLength: 500, errorMessage: 'must be a non-empty string of at most 500 characters' })),
});

const RecipientKind = oneOf(['processor', 'third_party'] as const);

export const DestinationSchema = Closed({
  id: Text,
  kind: oneOf(['webhook', 'segment'] as const),
  name: Opt(Text),
  recipientKind: Opt(RecipientKind),
  purposes: Type.Array(Text, { minItems: 1 }),
  categories: Opt(Type.Array(Text, { minItems: 1 })),
  endpoint: Text,
  secretEnv: Text,
  country: Country,
  transfer: Opt(TransferSchema),
  allowPrivateNetwork: Opt(Type.Boolean({ errorMessage: 'must be true or false (may requests go to loopback or private addresses)' })),
});
type DestinationInput = Static<typeof DestinationSchema>;
type TransferInput = Static<typeof TransferSchema>;

/** What the destination rules need to know of the rest of the configuration. */
export interface DestinationContext {
  categoryKeys: readonly string[];
  purposes: readonly { key: string; categories: readonly string[] }[];
}

const DESTINATION_ID = /^[a-z][a-z0-9_-]{0,62}$/;
export const ENV_NAME = /^[A-Z][A-Z0-9_]*$/;
export const MAX_ENV_NAME = 128;
const MAX_ENDPOINT = 2048;

/** Chapter V: a recipient outside the EEA without an adequacy decision names an acceptable safeguard (src/domain/transfers.ts). */
export function checkTransferAt(country: string, transfer: TransferInput | undefined, at: PathSegment[], errors: SemanticErrors): void {
  const decision = checkTransfer(country, transfer);
  if (decision.allow) return;
  const iso = isoCodeFor(country);
  // Leaving the EEA without an acceptable basis is the `transfer-without-basis` rule of `fiducia check`; a misspelt code is not.
  const rule = iso === undefined && decision.outsideEea ? 'transfer-without-basis' : undefined;
  errors.add([...at, iso === undefined ? 'transfer' : 'country'], decision.reason ?? 'transfer not allowed', rule);
}

export function checkDestinations(destinations: readonly DestinationInput[], ctx: DestinationContext, errors: SemanticErrors): void {
  const purposeKeys = ctx.purposes.map((p) => p.key);
  destinations.forEach((d, i) => {
    const at = (...rest: PathSegment[]): PathSegment[] => ['destinations', i, ...rest];
    if (!DESTINATION_ID.test(d.id)) {
      errors.add(at('id'), `"${d.id.slice(0, 80)}" must be 1 to 63 lowercase letters, digits, _ or -, starting with a letter, e.g. crm-webhook`);
    }
    d.purposes.forEach((key, j) => {
      if (!purposeKeys.includes(key)) errors.add(at('purposes', j), `unknown purpose "${key}"${didYouMean(key, purposeKeys)}`);
    });
    errors.duplicates(d.purposes, (j) => at('purposes', j), 'purpose');
    checkNarrowing(d, ctx, at, errors);
    const endpoint = endpointError(d.endpoint, d.allowPrivateNetwork ?? false);
    if (endpoint !== undefined) errors.add(at('endpoint'), endpoint);
    // The value is never echoed: it may be the secret itself, pasted in the wrong place.
    if (d.secretEnv.length > MAX_ENV_NAME || !ENV_NAME.test(d.secretEnv)) {
      errors.add(
        at('secretEnv'),
        'must be the name of the environment variable that holds the secret (capital letters, digits and _, starting with a letter, ' +
          'e.g. FIDUCIA_CRM_WEBHOOK_SECRET), never the secret itself',
      );
    }
    checkTransferAt(d.country, d.transfer, at(), errors);
  });
  errors.duplicates(
    destinations.map((d) => d.id),
    (i) => ['destinations', i, 'id'],
    'destination id',
  );
}

/** `categories` only narrows: each entry names taxonomy keys that the destination's own purposes already cover. */
function checkNarrowing(d: DestinationInput, ctx: DestinationContext, at: (...rest: PathSegment[]) => PathSegment[], errors: SemanticErrors): void {
  const own = ctx.purposes.filter((p) => d.purposes.includes(p.key));
  const keys = ctx.categoryKeys;
  (d.categories ?? []).forEach((entry, j) => {
    if (entry === UNCLASSIFIED) return errors.add(at('categories', j), `"${UNCLASSIFIED}" is read by no purpose, so no destination receives it`);
    const named = keys.filter((k) => entryCovers(entry, k));
    if (named.length === 0) return errors.add(at('categories', j), `unknown category "${entry}"${didYouMean(entry, keys)}`);
    if (own.length === 0) return; // the unknown purposes are reported already
    const outside = named.filter((k) => !own.some((p) => p.categories.some((e) => entryCovers(e, k))));
    if (outside.length > 0) {
      const listed = outside.length > 5 ? `${outside.slice(0, 5).join(', ')}, …` : outside.join(', ');
      errors.add(at('categories', j), `"${entry}" reaches beyond what this destination's purposes (${own.map((p) => p.key).join(', ')}) cover: ${listed}`);
    }
  });
  errors.duplicates(d.categories ?? [], (j) => at('categories', j), 'category');
}

// Literal addresses the delivery engine would refuse without allowPrivateNetwork; names that resolve to them are refused at send time.
const PRIVATE = new BlockList();
for (const [net, bits] of [['0.0.0.0', 8], ['10.0.0.0', 8], ['100.64.0.0', 10], ['127.0.0.0', 8], ['169.254.0.0', 16], ['172.16.0.0', 12], ['192.168.0.0', 16]] as const) {
  PRIVATE.addSubnet(net, bits, 'ipv4');
}
for (const [net, bits] of [['::', 127], ['fc00::', 7], ['fe80::', 10]] as const) PRIVATE.addSubnet(net, bits, 'ipv6');

/** `hostname` as URL gives it (IPv6 in brackets, IPv4 already in dotted form): loopback, private, link-local or `localhost`. */
export function isPrivateHost(hostname: string): boolean {
  const bare = hostname.startsWith('[') && hostname.endsWith(']') ? hostname.slice(1, -1) : hostname;
  const host = (bare.endsWith('.') ? bare.slice(0, -1) : bare).toLowerCase();
  if (host === 'localhost' || host.endsWith('.localhost')) return true;
  const family = isIP(host);
  return family !== 0 && PRIVATE.check(host, family === 4 ? 'ipv4' : 'ipv6');
}

/** Why an outbound endpoint is refused, or undefined (shared with the detection webhook). */
export function endpointError(raw: string, allowPrivateNetwork: boolean): string | undefined {
  if (raw.length > MAX_ENDPOINT) return `must be at most ${MAX_ENDPOINT} characters`;
  if (/\s/.test(raw)) return 'must not contain spaces';
  if (!URL.canParse(raw)) return 'must be an absolute URL, e.g. https://hooks.example.com/fiducia';
  const url = new URL(raw);
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return `must be an https: or http: URL, not ${url.protocol}`;
  if (url.username !== '' || url.password !== '') return 'must not carry credentials (user:password@); the secret belongs in the environment variable named by secretEnv';
  if (raw.includes('#')) return 'must not have a fragment (#…)';
  if (!allowPrivateNetwork && isPrivateHost(url.hostname)) {
    return `${url.hostname} is a loopback, private or link-local address: requests to it are refused unless allowPrivateNetwork is true`;
  }
  return undefined;
}

export function copySafeguard(t: TransferInput): TransferSafeguard {
  return {
    basis: t.basis,
    ...(t.derogation !== undefined ? { derogation: t.derogation } : {}),
    ...(t.reference !== undefined ? { reference: t.reference } : {}),
  };
}

/** Defaults: `name` is the id, `recipientKind` is `processor`, `allowPrivateNetwork` is false. */
export function normalizeDestination(d: DestinationInput): Destination {
  return {
    id: d.id,
    kind: d.kind,
    name: d.name ?? d.id,
    recipientKind: d.recipientKind ?? 'processor',
    purposes: [...d.purposes],
    ...(d.categories !== undefined ? { categories: [...d.categories] } : {}),
    endpoint: d.endpoint,
    secretEnv: d.secretEnv,
    country: d.country,
    ...(d.transfer !== undefined ? { transfer: copySafeguard(d.transfer) } : {}),
    allowPrivateNetwork: d.allowPrivateNetwork ?? false,
  };
}
