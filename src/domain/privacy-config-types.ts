// The privacy configuration ("privacy as code") as the rest of the program sees it after validation.
import type { SegmentDefinition } from './segments.ts';

import type { DetectionSettings } from './privacy-config-detection.ts';

export type LegalBasis =
  | 'consent'
  | 'contract'
  | 'legal_obligation'
  | 'vital_interests'
  | 'public_task'
  | 'legitimate_interests';

export const LEGAL_BASES: readonly LegalBasis[] = [
  'consent',
  'contract',
  'legal_obligation',
  'vital_interests',
  'public_task',
  'legitimate_interests',
];

export type Localized = { it: string; en: string };

/** A category of the taxonomy, e.g. `user.contact.email`. Keys are dotted; a parent key covers its children. */
export interface Category {
  key: string;
  name: Localized;
  /** Art. 9 special category (under `user.sensitive.*`). */
  special: boolean;
  /** `system.*` categories are not personal data. */
  personal: boolean;
}

export interface Recipient {
  /** As configured; shown to people when no `label` is given. */
  name: string;
  /** The name in each language, for the pages people read (privacy center, access page, record of processing). */
  label?: Localized | undefined;
  /** `processor` acts for us; `third_party` is a controller of its own (sharing). */
  kind: 'processor' | 'third_party';
  country: string;
  /** Chapter V safeguard; required when `country` is outside the EEA without an adequacy decision (src/domain/transfers.ts). */
  transfer?: TransferSafeguard | undefined;
}

export type DestinationKind = 'webhook' | 'segment';

/** Chapter V GDPR: an adequacy decision (Art. 45; for the US only the Data Privacy Framework), Art. 46 safeguards, or an Art. 49 derogation. */
export type TransferBasis = 'adequacy' | 'data_privacy_framework' | 'standard_contractual_clauses' | 'binding_corporate_rules' | 'derogation';

/** Art. 49(1) derogations for specific situations; only with basis `derogation`. */
export type TransferDerogation = 'explicit_consent' | 'contract' | 'public_interest' | 'legal_claims' | 'vital_interests';

export const TRANSFER_BASES: readonly TransferBasis[] = ['adequacy', 'data_privacy_framework', 'standard_contractual_clauses', 'binding_corporate_rules', 'derogation'];
export const TRANSFER_DEROGATIONS: readonly TransferDerogation[] = ['explicit_consent', 'contract', 'public_interest', 'legal_claims', 'vital_interests'];

export interface TransferSafeguard {
  basis: TransferBasis;
  derogation?: TransferDerogation | undefined;
  /** Where the safeguard is written down (e.g. the signed clauses), for the record of processing and the notice. */
  reference?: string | undefined;
}

/** Somewhere Fiducia sends personal data on behalf of one or more purposes (delivery: src/services/destinations/). */
export interface Destination {
  /** `/^[a-z][a-z0-9_-]{0,62}$/`, unique. */
  id: string;
  kind: DestinationKind;
  /** Shown to people (notice, record of processing); defaults to `id`. */
  name: string;
  /** Default `processor`. */
  recipientKind: 'processor' | 'third_party';
  /** Configured purpose keys, at least one. */
  purposes: string[];
  /** Optional narrowing: category keys or prefixes, each inside what the destination's purposes cover. */
  categories?: string[] | undefined;
  /** Absolute http: or https: URL without credentials or fragment. */
  endpoint: string;
  /** Name of the environment variable holding the secret; the secret itself is never in the file. */
  secretEnv: string;
  /** ISO 3166-1 alpha-2 code of the country where the destination processes the data. */
  country: string;
  transfer?: TransferSafeguard | undefined;
  /** Default false: outbound requests to loopback, private and link-local addresses are refused unless true. */
  allowPrivateNetwork: boolean;
}

export interface Purpose {
  key: string;
  name: Localized;
  description: Localized;
  legalBasis: LegalBasis;
  /** Category keys or prefixes (a prefix covers every key below it). */
  categories: string[];
  retentionDays: number;
  recipients: Recipient[];
  /** Sale/share purposes are the ones Global Privacy Control objects to. */
  saleOrShare: boolean;
}

export type UnknownPolicy = 'drop' | 'unclassified';

export interface EventPlan {
  /** Category of the event itself (its name, type and time). */
  category: string;
  /** Property name → category. Dotted names address nested objects (e.g. `products.price` is not used: arrays/objects take the category of their top-level key). */
  properties: Record<string, string>;
}

export interface TrackingPlan {
  /** `track` events by name. */
  events: Record<string, EventPlan>;
  /** `page` and `screen` calls. */
  page: EventPlan;
  screen: EventPlan;
  /** `group` calls: the group's traits. */
  group: EventPlan;
  /** identify traits by name. */
  traits: Record<string, string>;
  /** `context.*` keys (top-level key of context, or dotted `device.advertisingId`). */
  context: Record<string, string>;
  unknown: { events: UnknownPolicy; properties: UnknownPolicy; traits: UnknownPolicy };
}

export interface NoticeVersion {
  version: string;
  /** A material change invalidates consent given under earlier versions. */
  material: boolean;
}

export interface PrivacyConfig {
  controller: { name: string; contact: string; dpo?: string | undefined; country: string };
  languages: ('it' | 'en')[];
  categories: Category[];
  purposes: Purpose[];
  trackingPlan: TrackingPlan;
  notice: { current: string; versions: NoticeVersion[] };
  /** Segment consent category id → purpose keys. */
  segmentConsentCategories: Record<string, string[]>;
  /** IAB TCF v2.2: how a TC string's purpose consents map onto our purposes; absent when TC strings are not accepted. */
  tcf?: TcfMapping | undefined;
  /** The retention sweep (docs/retention.md); absent: no aggregates. */
  retention?: RetentionSettings | undefined;
  /** Segments and computed traits defined in the configuration (src/domain/segments.ts); more can be added through the API. */
  segments?: SegmentDefinition[] | undefined;
  /** Where personal data is sent, per purpose; `[]` when the file has none. */
  destinations: Destination[];
  /** Exfiltration thresholds (src/domain/privacy-config-detection.ts); absent: the defaults. */
  detection?: DetectionSettings | undefined;
  /** Human names of trait, event and property names for the pages people read; absent when the file has none. */
  labels?: Labels | undefined;
}

/** Field names in words (it/en): a name without a label is shown as it was sent. */
export interface Labels {
  /** identify trait name → label. */
  traits: Record<string, Localized>;
  /** `track` event name → label. */
  events: Record<string, Localized>;
  /** event property name (top-level key) → label. */
  properties: Record<string, Localized>;
}

export interface RetentionSettings {
  /** Before deleting events, add them to anonymous counts per event name, day and purpose (no subject link). */
  aggregates: boolean;
}

export interface TcfMapping {
  /** TCF purpose id (1–11) → our consent-based purposes. Ours is granted only if every TCF purpose mapped onto it is. */
  purposes: Record<string, string[]>;
  /** Our IAB vendor id, if registered: then a grant also needs this vendor's consent in the string. */
  vendorId?: number | undefined;
}

/** The category every unknown field gets when the policy keeps it; no purpose may cover it. */
export const UNCLASSIFIED = 'unclassified';
