// Where each PostgreSQL table goes when the schema is sharded by person with Citus; test/sharding-schema.test.ts holds the catalog to it.

/**
 * - `subject`: a person's rows, distributed by the subject id and co-located, so that everything of one person sits on
 *   one shard (`subjects` by its `id`, every other table by `subject_id`).
 * - `lookup`: found by a key known before the subject is (a blind index, a message id), and kept unique across all
 *   shards by that key: distributed by it instead.
 * - `reference`: small, read by every request, rarely written: one copy on every node.
 * - `coordinator`: stays a plain table on the coordinator: one ordered log, single rows locked as sequencers or
 *   leases, and workflows read in global order whose rows need not name a subject.
 */
export type Placement = 'subject' | 'lookup' | 'reference' | 'coordinator';

export interface TablePlacement {
  placement: Placement;
  /** The distribution column (`subject` and `lookup` tables). */
  column?: string;
  /** `lookup` tables: the table whose shards this one shares (`colocate_with`); none: a group of its own. */
  colocateWith?: string;
  why: string;
  /**
   * Unique indexes Citus would refuse (they lack the distribution column), kept on purpose because PostgreSQL enforces
   * them today; what has to replace each before the table is distributed.
   */
  refusedByCitus?: Record<string, string>;
}

export const DATA_TABLES: Readonly<Record<string, TablePlacement>> = {
  subjects: { placement: 'subject', column: 'id', why: 'the person; its id is the subject id every other subject table is distributed by' },
  traits: { placement: 'subject', column: 'subject_id', why: 'profile attributes, key (subject_id, name)' },
  events: { placement: 'subject', column: 'subject_id', why: 'encrypted events, key (subject_id, id) since 0009' },
  consents: { placement: 'subject', column: 'subject_id', why: 'the consent ledger, key (subject_id, id) since 0009' },
  objections: { placement: 'subject', column: 'subject_id', why: 'Art. 21 objections, key (subject_id, id) since 0009' },
  legal_holds: { placement: 'subject', column: 'subject_id', why: 'holds on one person, key (subject_id, id) since 0009' },
  recipient_notifications: { placement: 'subject', column: 'subject_id', why: 'Art. 19 notices about one person, key (subject_id, id) since 0009' },
  segment_members: { placement: 'subject', column: 'subject_id', why: 'segment memberships, key (segment_id, subject_id)' },
  segment_states: { placement: 'subject', column: 'subject_id', why: 'the per-person encrypted aggregate state, key subject_id' },
  identities: {
    placement: 'lookup',
    column: 'blind_index',
    why: 'an identity is looked up by blind index before its subject is known, and (kind, blind_index) must name one subject across all shards: only a table distributed by blind_index keeps that key unique',
  },
  subject_user_ids: { placement: 'subject', column: 'subject_id', why: 'at most one userId per subject, key subject_id (since 0010; the rule was a unique index on identities, which is distributed by blind index)' },
  suppressions: { placement: 'lookup', column: 'blind_index', colocateWith: 'identities', why: 'erased identifiers, looked up by blind index in every ingestion batch beside identities' },
  ingested_messages: { placement: 'lookup', column: 'message_id', why: 'the idempotence ledger, claimed by (source_id, message_id) before any subject is resolved' },
  sources: { placement: 'reference', why: 'write keys, read by every ingestion request' },
  tokens: { placement: 'reference', why: 'API tokens, read by every API request' },
  segment_definitions: { placement: 'reference', why: 'segment and computed-trait definitions, read by every segment update' },
  audit_entries: { placement: 'coordinator', why: 'the audit log: one gap-free sequence in commit order (subject_id is null for entries about no one)' },
  audit_nodes: { placement: 'coordinator', why: 'subtree hashes of the audit log' },
  audit_head: { placement: 'coordinator', why: 'the one row every audit append locks: the sequencer' },
  audit_checkpoints: { placement: 'coordinator', why: 'signed checkpoints of the audit log' },
  rights_requests: { placement: 'coordinator', why: 'rights requests: read by id and in global order; the subject is unknown until matched (subject_id null)' },
  rights_request_history: { placement: 'coordinator', why: 'the history of each rights request, by request id' },
  rights_packages: { placement: 'coordinator', why: 'access packages, by request id (subject_id null when no subject matched)' },
  rate_limit_windows: { placement: 'coordinator', why: 'rate-limit counters, written on every limited request' },
  segment_meta: { placement: 'coordinator', why: 'leases by compare-and-set (the decay refresh)' },
  retention_aggregates: { placement: 'coordinator', why: 'anonymous counts of deleted events per day, purpose and event name: no subject' },
  deliveries: {
    placement: 'coordinator',
    why: 'the destinations\' outbox: claimed in due order across all people with FOR UPDATE SKIP LOCKED, which Citus runs only on one shard; rows hold references and codes, no values',
  },
  breaches: { placement: 'coordinator', why: 'the breach register (Art. 33(5)): a few rows read in deadline order, about no one person' },
  breach_history: { placement: 'coordinator', why: 'the append-only history of each breach, by breach id' },
  breach_subjects: {
    placement: 'coordinator',
    why: 'the people one breach concerns, read and updated by breach id across all people; subject ids and outcome codes only, no values',
  },
  disclosure_windows: {
    placement: 'coordinator',
    why: 'exfiltration windows: per principal (a token or console user), not per person; sketches of keyed hashes, written by every process that served the principal',
  },
  debugger_events: {
    placement: 'coordinator',
    why: "the live debugger: per source (not per person) the last few hundred messages as field names and reason codes, no subject id; a small table pruned as it goes, like the destinations' outbox beside it",
  },
  console_users: { placement: 'reference', why: 'console users (login names, roles, password hashes): a handful of rows read by every console request' },
  console_sessions: { placement: 'coordinator', why: 'console sessions by hashed id: written on every console request (idle expiry), about staff, not the people in the data' },
  visitor_keys: { placement: 'subject', column: 'subject_id', why: "one visitor key per subject (the secret's hash and the credentials' signing key), key subject_id; deleted with the subject" },
  daily_counts: { placement: 'coordinator', why: "the console overview's counts per day, metric and key (messages by outcome, drops by reason): no subject, a few dozen rows a day" },
  jobs: { placement: 'coordinator', why: 'background-job leases (rows locked with FOR UPDATE SKIP LOCKED) and last runs' },
  kysely_migration: { placement: 'coordinator', why: "Kysely's record of applied migrations" },
  kysely_migration_lock: { placement: 'coordinator', why: "Kysely's migration lock row" },
};

export const KEYSTORE_TABLES: Readonly<Record<string, TablePlacement>> = {
  data_keys: { placement: 'subject', column: 'subject_id', why: "one wrapped key per subject and version, key (subject_id, version); request keys (`rights:<id>`) hash like any id" },
  kek_versions: { placement: 'reference', why: 'KEK salts and check values, read at start' },
  audit_signing_keys: { placement: 'coordinator', why: "the audit log's signing key (one slot)" },
  key_sweeps: { placement: 'coordinator', why: "the orphan-key sweep's mark" },
  kysely_migration: { placement: 'coordinator', why: "Kysely's record of applied migrations" },
  kysely_migration_lock: { placement: 'coordinator', why: "Kysely's migration lock row" },
};

/**
 * The statements an operator runs on the Citus coordinator, with `search_path` set to the schema, after the last
 * migration: subject tables co-located with `subjects`, lookup tables in their own groups, reference tables copied.
 * Coordinator tables need none. Only once every `refusedByCitus` index has been replaced (Citus refuses them).
 */
export function citusStatements(tables: Readonly<Record<string, TablePlacement>>): string[] {
  const out: string[] = [];
  const entries = Object.entries(tables);
  const anchor = entries.find(([, t]) => t.placement === 'subject' && t.column === 'id')?.[0];
  for (const [name, t] of entries) {
    if (t.placement === 'subject') {
      const group = name === anchor ? 'none' : (anchor ?? 'default');
      out.push(`SELECT create_distributed_table('${name}', '${t.column}', colocate_with => '${group}');`);
    }
  }
  for (const [name, t] of entries) {
    if (t.placement === 'lookup') out.push(`SELECT create_distributed_table('${name}', '${t.column}', colocate_with => '${t.colocateWith ?? 'none'}');`);
  }
  for (const [name, t] of entries) if (t.placement === 'reference') out.push(`SELECT create_reference_table('${name}');`);
  return out;
}
