// Rights requests: requests and their history, encrypted packages, suppression list, legal holds, recipient outbox, rate-limit windows.
import type { Kysely, Migration } from 'kysely';
import type { Dialect } from '../dialect.ts';
import { columnTypes } from './types.ts';

// Long on purpose: a migration is one flat list of DDL statements, table after table in the order they run, as released.
export function rights(dialect: Dialect): Migration {
  const t = columnTypes(dialect);
  return {
    async up(db: Kysely<unknown>) {
      // Personal parts (contact address, free text, corrections) are encrypted under the request's own key
      // (`rights:<id>` in the keystore), destroyed when the request no longer needs them.
      await db.schema
        .createTable('rights_requests')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('type', 'text', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('channel', 'text', (c) => c.notNull())
        .addColumn('language', 'text', (c) => c.notNull())
        .addColumn('identity_kind', 'text')
        .addColumn('identity_index', t.blob)
        .addColumn('subject_id', 'text')
        .addColumn('contact_enc', t.blob)
        .addColumn('params_enc', t.blob)
        .addColumn('options', 'text', (c) => c.notNull())
        .addColumn('outcome', 'text', (c) => c.notNull())
        .addColumn('status_reason', 'text')
        .addColumn('waiting', 'text')
        .addColumn('created_by', 'text', (c) => c.notNull())
        .addColumn('received_at', t.time, (c) => c.notNull())
        .addColumn('due_at', t.time, (c) => c.notNull())
        .addColumn('verified_at', t.time)
        .addColumn('extended_at', t.time)
        .addColumn('extension_months', 'integer')
        .addColumn('extension_reason', 'text')
        .addColumn('closed_at', t.time)
        .addColumn('updated_at', t.time, (c) => c.notNull())
        .addColumn('code_hash', t.blob)
        .addColumn('code_expires_at', t.time)
        .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('download_hash', t.blob)
        .execute();
      await db.schema.createIndex('rights_requests_status_due').on('rights_requests').columns(['status', 'due_at']).execute();
      await db.schema.createIndex('rights_requests_subject').on('rights_requests').columns(['subject_id']).execute();
      await db.schema
        .createTable('rights_request_history')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('request_id', 'text', (c) => c.notNull())
        .addColumn('at', t.time, (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('step', 'text', (c) => c.notNull())
        .addColumn('reason', 'text')
        .addColumn('actor', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('rights_request_history_request').on('rights_request_history').columns(['request_id', 'id']).execute();
      await db.schema
        .createTable('rights_packages')
        .addColumn('request_id', 'text', (c) => c.primaryKey())
        .addColumn('subject_id', 'text')
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('package_enc', t.blob, (c) => c.notNull())
        .addColumn('size', 'integer', (c) => c.notNull())
        .addColumn('created_at', t.time, (c) => c.notNull())
        .addColumn('expires_at', t.time, (c) => c.notNull())
        .execute();
      await db.schema.createIndex('rights_packages_subject').on('rights_packages').columns(['subject_id']).execute();
      await db.schema.createIndex('rights_packages_expiry').on('rights_packages').columns(['expires_at']).execute();
      // Blind indexes only: a suppressed identifier can be recognised, never read back.
      await db.schema
        .createTable('suppressions')
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('blind_index', t.blob, (c) => c.notNull())
        .addColumn('request_id', 'text')
        .addColumn('created_at', t.time, (c) => c.notNull())
        .addPrimaryKeyConstraint('suppressions_pk', ['kind', 'blind_index'])
        .execute();
      // Ingestion looks suppressed identifiers up by blind index alone, in every group commit.
      await db.schema.createIndex('suppressions_index').on('suppressions').columns(['blind_index']).execute();
      await db.schema
        .createTable('legal_holds')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('subject_id', 'text', (c) => c.notNull())
        .addColumn('reason', 'text', (c) => c.notNull())
        .addColumn('set_by', 'text', (c) => c.notNull())
        .addColumn('set_at', t.time, (c) => c.notNull())
        .addColumn('released_by', 'text')
        .addColumn('released_at', t.time)
        .execute();
      await db.schema.createIndex('legal_holds_subject').on('legal_holds').columns(['subject_id', 'released_at']).execute();
      // Art. 19 notices to recipients, delivered by the destinations mechanism once it exists.
      await db.schema
        .createTable('recipient_notifications')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('request_id', 'text')
        .addColumn('subject_id', 'text', (c) => c.notNull())
        .addColumn('recipient', 'text', (c) => c.notNull())
        .addColumn('purposes', 'text', (c) => c.notNull())
        .addColumn('action', 'text', (c) => c.notNull())
        .addColumn('fields', 'text', (c) => c.notNull())
        .addColumn('created_at', t.time, (c) => c.notNull())
        .addColumn('delivered_at', t.time)
        .execute();
      await db.schema.createIndex('recipient_notifications_pending').on('recipient_notifications').columns(['delivered_at', 'id']).execute();
      await db.schema
        .createTable('rate_limit_windows')
        .addColumn('bucket', 'text', (c) => c.primaryKey())
        .addColumn('window_start', t.time, (c) => c.notNull())
        .addColumn('hits', 'integer', (c) => c.notNull())
        .execute();
    },
  };
}
