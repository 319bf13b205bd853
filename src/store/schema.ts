// Table types of the data database and of the keystore, as Kysely sees them. Times are epoch milliseconds.

export interface SourcesTable {
  id: string;
  name: string;
  write_key_hash: string;
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
}

export interface SubjectsTable {
  id: string;
  created_at: number;
  updated_at: number;
  /** Set when the subject was merged into another one; the row stays as a pseudonymous redirect. */
  merged_into: string | null;
}

export interface IdentitiesTable {
  kind: string;
  blind_index: Buffer;
  subject_id: string;
  /** The value, encrypted under the subject's data key (needed for access exports). */
  value_enc: Buffer;
  created_at: number;
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
}

export interface DataDatabase {
  sources: SourcesTable;
  tokens: TokensTable;
  subjects: SubjectsTable;
  identities: IdentitiesTable;
  traits: TraitsTable;
  events: EventsTable;
  ingested_messages: IngestedMessagesTable;
  consents: ConsentsTable;
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
}
