// The first data schema: sources, tokens, subjects, identities, traits, events, message ids, consent ledger.
import { sql, type Kysely, type Migration } from 'kysely';
import type { Dialect } from '../dialect.ts';
import { columnTypes } from './types.ts';

// Long on purpose: a migration is one flat list of DDL statements, table after table in the order they run, as released.
export function initial(dialect: Dialect): Migration {
  const t = columnTypes(dialect);
  return {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('sources')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('write_key_hash', 'text', (c) => c.notNull().unique())
        .addColumn('created_at', t.time, (c) => c.notNull())
        .addColumn('revoked_at', t.time)
        .execute();
      await db.schema
        .createTable('tokens')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('role', 'text', (c) => c.notNull())
        .addColumn('purposes', 'text', (c) => c.notNull())
        .addColumn('token_hash', 'text', (c) => c.notNull().unique())
        .addColumn('created_at', t.time, (c) => c.notNull())
        .addColumn('revoked_at', t.time)
        .execute();
      await db.schema
        .createTable('subjects')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('created_at', t.time, (c) => c.notNull())
        .addColumn('updated_at', t.time, (c) => c.notNull())
        .addColumn('merged_into', 'text')
        .execute();
      // Identities are looked up by blind index; a subject holds at most one userId.
      await db.schema
        .createTable('identities')
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('blind_index', t.blob, (c) => c.notNull())
        .addColumn('subject_id', 'text', (c) => c.notNull())
        .addColumn('value_enc', t.blob, (c) => c.notNull())
        .addColumn('created_at', t.time, (c) => c.notNull())
        .addPrimaryKeyConstraint('identities_pk', ['kind', 'blind_index'])
        .execute();
      await db.schema.createIndex('identities_subject').on('identities').columns(['subject_id']).execute();
      await db.schema
        .createIndex('identities_one_user_id')
        .on('identities')
        .column('subject_id')
        .unique()
        .where(sql.ref('kind'), '=', 'userId')
        .execute();
      await db.schema
        .createTable('traits')
        .addColumn('subject_id', 'text', (c) => c.notNull())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('category', 'text', (c) => c.notNull())
        .addColumn('value_enc', t.blob, (c) => c.notNull())
        .addColumn('purposes', 'text', (c) => c.notNull())
        .addColumn('source_id', 'text', (c) => c.notNull())
        .addColumn('updated_at', t.time, (c) => c.notNull())
        .addPrimaryKeyConstraint('traits_pk', ['subject_id', 'name'])
        .execute();
      // Events carry subject_id (the distribution column for Citus) and a time-ordered id.
      await db.schema
        .createTable('events')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('subject_id', 'text', (c) => c.notNull())
        .addColumn('source_id', 'text', (c) => c.notNull())
        .addColumn('message_id', 'text', (c) => c.notNull())
        .addColumn('type', 'text', (c) => c.notNull())
        .addColumn('event_name', 'text')
        .addColumn('category', 'text', (c) => c.notNull())
        .addColumn('purposes', 'text', (c) => c.notNull())
        .addColumn('categories', 'text', (c) => c.notNull())
        .addColumn('timestamp', t.time, (c) => c.notNull())
        .addColumn('received_at', t.time, (c) => c.notNull())
        .addColumn('payload_enc', t.blob, (c) => c.notNull())
        .execute();
      await db.schema.createIndex('events_subject').on('events').columns(['subject_id', 'id']).execute();
      await db.schema
        .createTable('ingested_messages')
        .addColumn('source_id', 'text', (c) => c.notNull())
        .addColumn('message_id', 'text', (c) => c.notNull())
        .addColumn('received_at', t.time, (c) => c.notNull())
        .addPrimaryKeyConstraint('ingested_messages_pk', ['source_id', 'message_id'])
        .execute();
      await db.schema
        .createTable('consents')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('subject_id', 'text', (c) => c.notNull())
        .addColumn('purpose', 'text', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('notice_version', 'text', (c) => c.notNull())
        .addColumn('method', 'text', (c) => c.notNull())
        .addColumn('source_id', 'text')
        .addColumn('receipt_id', 'text', (c) => c.notNull())
        .addColumn('at', t.time, (c) => c.notNull())
        .addColumn('ua_hash', 'text')
        .addColumn('ip_truncated', 'text')
        .execute();
      await db.schema.createIndex('consents_subject').on('consents').columns(['subject_id', 'purpose', 'id']).execute();
      await db.schema.createIndex('consents_receipt').on('consents').columns(['receipt_id']).execute();
    },
  };
}
