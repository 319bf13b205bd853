// Table types of the data database and of the keystore, as Kysely sees them. Times are epoch milliseconds.
import type { IdentityAssertion } from '../domain/identity.ts';

// Defined in the domain (src/http names it too, and may not import the store); re-exported for the store's users.
export type { IdentityAssertion };

export type SourceKind = 'browser' | 'server';

export interface SourcesTable {
  id: string;
  name: string;
  /** `browser`: a public key that ingests for its own visitor; `server`: a secret key that may assert identities. */
  kind: SourceKind;
  write_key_hash: string;
  /** A browser source's write key in clear (it is public: pages embed it); null for server sources. */
  public_key: string | null;
  /** A browser source's `userHash` key, sealed under a key derived from the master key; null for server sources. */
  verification_secret_enc: Buffer | null;
  created_at: number;
  revoked_at: number | null;
}

export interface TokensTable {
  id: string;
  name: string;
  role: string;
  /** JSON array of purpose keys (service tokens). */
  purposes: string;
  token_hash: string;
  created_at: number;
  revoked_at: number | null;
  /** Set when exfiltration detection suspended the token; every request with it is refused until reinstated. */
  suspended_at: number | null;
  /** Why (a reason code and the window crossed), never personal data. */
  suspended_reason: string | null;
}

export interface ConsoleUsersTable {
  id: string;
  /** Normalized login name (an email or a user name, trimmed and in lower case). */
  username: string;
  role: string;
  /** `scrypt$N$r$p$salt$hash` (base64url): the parameters travel with the hash. */
  password_hash: string;
  created_at: number;
  password_changed_at: number;
  disabled_at: number | null;
  /** Set when exfiltration detection suspended the user: sessions and logins are refused until an admin reinstates. */
  suspended_at: number | null;
  /** Why (`exfiltration`); null while not suspended. */
  suspended_reason: string | null;
}

export interface ConsoleSessionsTable {
  /** SHA-256 (hex) of the session id the cookie carries. */
  id_hash: string;
  user_id: string;
  created_at: number;
  last_seen_at: number;
  revoked_at: number | null;
}

export interface SubjectsTable {
  id: string;
  created_at: number;
  updated_at: number;
  /** Set when the subject was merged into another one; the row stays as a pseudonymous redirect. */
  merged_into: string | null;
  /** Art. 18 restriction in force since (null: none). */
  restricted_at: number | null;
  /** Erasure done or under way since (null: none); nothing of the subject is readable. */
  erased_at: number | null;
}

export interface IdentitiesTable {
  kind: string;
  blind_index: Buffer;
  subject_id: string;
  /** The value, encrypted under the subject's data key (needed for access exports). */
  value_enc: Buffer;
  created_at: number;
  /** How the link was asserted: `server`, `verified_hash`, `anonymous`, `rights_request`, or `legacy` (before 0008). */
  asserted: IdentityAssertion;
}

export interface TraitsTable {
  subject_id: string;
  name: string;
  category: string;
  value_enc: Buffer;
  /** JSON array of the purposes the value was collected under. */
  purposes: string;
  source_id: string;
  /** Time of the message that wrote it (most recent write wins on merge). */
  updated_at: number;
}

export interface EventsTable {
  id: string;
  subject_id: string;
  source_id: string;
  message_id: string;
  type: string;
  event_name: string | null;
  category: string;
  /** JSON array of the purposes the event was collected under. */
  purposes: string;
  /** JSON array of the categories of the fields kept in the payload. */
  categories: string;
  timestamp: number;
  received_at: number;
  /** Kept properties and context, one ciphertext per event. */
  payload_enc: Buffer;
}

export interface IngestedMessagesTable {
  source_id: string;
  message_id: string;
  received_at: number;
}

export interface ConsentsTable {
  id: string;
  subject_id: string;
  purpose: string;
  status: string;
  notice_version: string;
  method: string;
  source_id: string | null;
  receipt_id: string;
  at: number;
  ua_hash: string | null;
  ip_truncated: string | null;
  /** 1 when a grant was explicit consent (Art. 9(2)(a)), needed for special categories. */
  explicit: number;
}

/** Art. 21 objections to a purpose: in force while `lifted_at` is null. */
export interface ObjectionsTable {
  id: string;
  subject_id: string;
  purpose: string;
  at: number;
  lifted_at: number | null;
  /** The rights request that recorded it, if any. */
  request_id: string | null;
}

/** A data-subject rights request (migration 0005); personal parts are encrypted under the request key `rights:<id>`. */
export interface RightsRequestsTable {
  id: string;
  type: string;
  status: string;
  channel: string;
  language: string;
  identity_kind: string | null;
  /** Blind index of the identity the request names. */
  identity_index: Buffer | null;
  subject_id: string | null;
  contact_enc: Buffer | null;
  params_enc: Buffer | null;
  /** Non-personal JSON: purposes, suppress, … */
  options: string;
  /** Non-personal JSON summary of what was done. */
  outcome: string;
  status_reason: string | null;
  /** Why an open request is waiting (e.g. `legal_hold`). */
  waiting: string | null;
  created_by: string;
  received_at: number;
  due_at: number;
  verified_at: number | null;
  extended_at: number | null;
  extension_months: number | null;
  extension_reason: string | null;
  closed_at: number | null;
  updated_at: number;
  code_hash: Buffer | null;
  code_expires_at: number | null;
  attempts: number;
  download_hash: Buffer | null;
}

export interface RightsRequestHistoryTable {
  id: string;
  request_id: string;
  at: number;
  status: string;
  step: string;
  reason: string | null;
  actor: string;
}

export interface RightsPackagesTable {
  request_id: string;
  subject_id: string | null;
  kind: string;
  package_enc: Buffer;
  size: number;
  created_at: number;
  expires_at: number;
}

export interface SuppressionsTable {
  kind: string;
  blind_index: Buffer;
  request_id: string | null;
  created_at: number;
}

export interface LegalHoldsTable {
  id: string;
  subject_id: string;
  reason: string;
  set_by: string;
  set_at: number;
  released_by: string | null;
  released_at: number | null;
}

/** Art. 19 outbox: what each recipient must be told (field names and purposes, never values). */
export interface RecipientNotificationsTable {
  id: string;
  request_id: string | null;
  subject_id: string;
  recipient: string;
  purposes: string;
  action: string;
  fields: string;
  created_at: number;
  delivered_at: number | null;
}

export interface RateLimitWindowsTable {
  bucket: string;
  window_start: number;
  hits: number;
}

/** Segment and computed-trait definitions (migration 0004); `definition` is the validated JSON. */
export interface SegmentDefinitionsTable {
  key: string;
  /** `config` (synced from the privacy configuration at start) or `api`. */
  origin: string;
  kind: string;
  purpose: string;
  definition: string;
  hash: string;
  created_at: number;
  updated_at: number;
  built_hash: string | null;
  built_at: number | null;
}

export interface SegmentMembersTable {
  segment_id: string;
  subject_id: string;
  since: number;
}

/** Per-subject aggregate state of every segment and computed trait, encrypted under the subject's key (`segments:state`). */
export interface SegmentStatesTable {
  subject_id: string;
  state_enc: Buffer;
  updated_at: number;
}

export interface SegmentMetaTable {
  name: string;
  value: string;
}

/** The userId link of a subject, if any: the primary key keeps it to one (the identity itself is in `identities`). */
export interface SubjectUserIdsTable {
  subject_id: string;
  blind_index: Buffer;
}

/** A background job's lease and last run (migration 0011); times are epoch milliseconds. */
export interface JobsTable {
  name: string;
  /** The process holding the lease, while `lease_until` is in the future. */
  lease_owner: string | null;
  lease_until: number | null;
  /** When the job is next due (null: no process schedules it). */
  next_run_at: number | null;
  last_started_at: number | null;
  last_finished_at: number | null;
  last_duration_ms: number | null;
  /** `ok` or `failed`. */
  last_outcome: string | null;
  /** JSON object of counts (numbers only). */
  last_counts: string | null;
  /** An error code or class name, never a message (messages can quote personal values). */
  last_error: string | null;
}

/** Anonymous counts of events deleted by the retention sweep (migration 0012); no subject link. */
export interface RetentionAggregatesTable {
  /** UTC day of the event's timestamp, `YYYY-MM-DD`. */
  day: string;
  purpose: string;
  type: string;
  /** The `track` event's name; '' for page, screen and group calls. */
  event_name: string;
  count: number;
}

export interface DataDatabase {
  sources: SourcesTable;
  tokens: TokensTable;
  console_users: ConsoleUsersTable;
  console_sessions: ConsoleSessionsTable;
  subjects: SubjectsTable;
  identities: IdentitiesTable;
  subject_user_ids: SubjectUserIdsTable;
  traits: TraitsTable;
  events: EventsTable;
  ingested_messages: IngestedMessagesTable;
  consents: ConsentsTable;
  objections: ObjectionsTable;
  rights_requests: RightsRequestsTable;
  rights_request_history: RightsRequestHistoryTable;
  rights_packages: RightsPackagesTable;
  suppressions: SuppressionsTable;
  legal_holds: LegalHoldsTable;
  recipient_notifications: RecipientNotificationsTable;
  rate_limit_windows: RateLimitWindowsTable;
  audit_entries: AuditEntriesTable;
  audit_nodes: AuditNodesTable;
  audit_head: AuditHeadTable;
  audit_checkpoints: AuditCheckpointsTable;
  segment_definitions: SegmentDefinitionsTable;
  segment_members: SegmentMembersTable;
  segment_states: SegmentStatesTable;
  segment_meta: SegmentMetaTable;
  jobs: JobsTable;
  retention_aggregates: RetentionAggregatesTable;
  deliveries: DeliveriesTable;
  breaches: BreachesTable;
  breach_history: BreachHistoryTable;
  breach_subjects: BreachSubjectsTable;
  disclosure_windows: DisclosureWindowsTable;
  debugger_events: DebuggerEventsTable;
  visitor_keys: VisitorKeysTable;
  daily_counts: DailyCountsTable;
}

/** The overview's daily counts (migration 0019): per UTC day, metric and key; no subject, no value. */
export interface DailyCountsTable {
  /** UTC day, `YYYY-MM-DD`. */
  day: string;
  /** `messages`, `message_drops` or `field_drops` (src/domain/daily-counts.ts). */
  metric: string;
  key: string;
  count: number;
}

/** One message as the live debugger shows it (migration 0016): names and reason codes, never a value or a person's id. */
export interface DebuggerEventsTable {
  source_id: string;
  /** uuidv7: the polling cursor. */
  id: string;
  received_at: number;
  type: string;
  event_name: string | null;
  message_id: string;
  /** `stored`, `duplicate` or `dropped`. */
  outcome: string;
  /** Why a whole message was dropped (`blocked_identity`, `suppressed`, `nothing_to_keep`). */
  reason: string | null;
  /** JSON text: `{identity, stored, dropped, omitted}`. */
  details: string;
}

/** A distinct-count sketch of the subjects one principal read in one time bucket of one window length. */
export interface DisclosureWindowsTable {
  principal: string;
  window_seconds: number;
  /** Epoch ms of the bucket's start; -1 holds the time of the principal's last alert for the window (`updated_at`). */
  bucket_start: number;
  sketch: Uint8Array;
  updated_at: number;
}

/** One audit entry (a leaf); `data` is the canonical JSON text of `{counts, details, fields}`. */
export interface AuditEntriesTable {
  idx: number;
  at: number;
  actor: string;
  action: string;
  purpose: string | null;
  subject_id: string | null;
  outcome: string;
  data: string;
  leaf_hash: Buffer;
}

/** A complete subtree of the audit tree of level ≥ 8 (smaller ones are recomputed from leaf hashes). */
export interface AuditNodesTable {
  level: number;
  idx: number;
  hash: Buffer;
}

/** The single row (id 1) every append locks: tree size, its peaks (32-byte hashes, largest first) and root. */
export interface AuditHeadTable {
  id: number;
  size: number;
  peaks: Buffer;
  root: Buffer;
  updated_at: number;
}

export interface AuditCheckpointsTable {
  id: string;
  tree_size: number;
  root: Buffer;
  at: number;
  key_id: string;
  /** The signed note, exactly as exported. */
  note: string;
}

export interface KekVersionsTable {
  version: number;
  salt: Buffer;
  check_value: Buffer;
  created_at: number;
}

export interface DataKeysTable {
  subject_id: string;
  version: number;
  kek_version: number;
  wrapped: Buffer;
  created_at: number;
}

export interface KeysDatabase {
  kek_versions: KekVersionsTable;
  data_keys: DataKeysTable;
  audit_signing_keys: AuditSigningKeysTable;
  key_sweeps: KeySweepsTable;
}

/** How far a keystore sweep got: every key created up to `checked_until` (epoch ms) was checked. */
export interface KeySweepsTable {
  name: string;
  checked_until: number;
}

/** The audit log's Ed25519 key; the private key (PKCS#8) is wrapped with a key derived from the master key. */
export interface AuditSigningKeysTable {
  slot: number;
  key_id: string;
  public_key: Buffer;
  private_wrapped: Buffer;
  created_at: number;
}

/** `pending` (due at `next_attempt_at`), `delivered`, `skipped` (nothing the policy allows was left to send) or `dead`. */
export type DeliveryStatus = 'pending' | 'delivered' | 'skipped' | 'dead';
/**
 * `event`: a stored event (ref: its id); `identify`: traits (ref: JSON array of names); `notice`: Art. 19 (ref: JSON);
 * `mail`: a rights-request message for SMTP (ref: its kind; the message itself in `secret_enc`).
 */
export type DeliveryKind = 'event' | 'identify' | 'notice' | 'mail';

/** A message owed to a destination (migration 0013): references and codes, never a value in clear. */
export interface DeliveriesTable {
  /** uuidv7; also the idempotency id the receiver sees (`webhook-id`, the Segment `messageId`). */
  id: string;
  destination_id: string;
  subject_id: string;
  kind: DeliveryKind;
  ref: string;
  /** Notices: the identifiers under the key `notice:<id>`; mail: the message under `mail:<id>`; destroyed once sent. */
  secret_enc: Buffer | null;
  status: DeliveryStatus;
  attempts: number;
  next_attempt_at: number;
  lease_owner: string | null;
  lease_until: number | null;
  /** The receiver's last HTTP status, if it answered. */
  last_status: number | null;
  /** The last failure as a code (`http_503`, `timeout`, `blocked_address`) or, when skipped, the policy's reason. */
  last_error: string | null;
  created_at: number;
  finished_at: number | null;
}

/**
 * A personal data breach (migration 0014). JSON text columns: `nature` and `categories` (arrays), `description`,
 * `consequences`, `measures_taken`, `measures_proposed`, `advice`, `delay_reason` (`{it?, en?}`), `contact`.
 */
export interface BreachesTable {
  id: string;
  status: string;
  nature: string;
  description: string;
  categories: string;
  approx_subjects: number | null;
  approx_records: number | null;
  consequences: string | null;
  measures_taken: string | null;
  measures_proposed: string | null;
  advice: string | null;
  /** `keys_safe`, `keys_compromised`, `not_encrypted` or `unknown`. */
  encryption: string;
  contact: string;
  aware_at: number;
  occurred_at: number | null;
  /** Awareness plus 72 hours (Art. 33(1)). */
  due_at: number;
  authority_notified_at: number | null;
  authority_reference: string | null;
  delay_reason: string | null;
  not_required_reason: string | null;
  /** People the notice was sent to (at least one message accepted by the mailer). */
  subjects_notified: number;
  subjects_notified_at: number | null;
  created_by: string;
  created_at: number;
  updated_at: number;
  closed_at: number | null;
}

/** One change to a breach: the field names changed and their values before (JSON), the status after. Append-only. */
export interface BreachHistoryTable {
  id: string;
  breach_id: string;
  at: number;
  actor: string;
  action: string;
  status: string;
  fields: string;
  previous: string | null;
  note: string | null;
}

/** A person a breach concerns; `outcome` once the notice was tried: `sent`, `no_email`, `erased`, `failed`. */
export interface BreachSubjectsTable {
  breach_id: string;
  subject_id: string;
  added_at: number;
  notified_at: number | null;
  outcome: string | null;
}

/** A visitor's key (migration 0018): the hash of the secret the visitor's browser holds and the key signing its credentials. */
export interface VisitorKeysTable {
  subject_id: string;
  secret_hash: Buffer;
  signing_key: Buffer;
  /** `browser` or `verified`. */
  bound_by: string;
  bound_at: number;
}
