// The audit log as a service: transactional appends, sequencing, what it records on its own, proofs, checkpoints, queries.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CompiledQuery } from 'kysely';
import { createFiducia } from '../src/app.ts';
import { startCheckpointJob } from '../src/jobs/audit-checkpoint.ts';
import { AuditInputError } from '../src/services/audit/audit-log.ts';
import { AUDIT_SUBJECT_BLOCK, AuditRepo, subjectQuery } from '../src/store/audit-repo.ts';
import { checkConsistency, checkInclusion } from '../src/services/audit/audit-proofs.ts';
import { DEFAULT_CONFIG_PATH } from '../src/services/config/config-loader.ts';
import { rotateKeys } from '../src/services/keys/key-rotation.ts';
import { basicAuth, eachDialect, startFiducia } from './helpers/harness.ts';

const entry = (i: number, extra: Record<string, unknown> = {}) => ({
  actor: `tok_${i % 3}`,
  action: 'profile.read',
  purpose: i % 2 ? 'marketing' : 'personalization',
  subjectId: `s-${i % 4}`,
  fields: ['email'],
  outcome: 'ok' as const,
  ...extra,
});

await eachDialect('audit log', (dialect) => {
  let f: Awaited<ReturnType<typeof startFiducia>>;
  before(async () => {
    f = await startFiducia(dialect, { auditCheckpointSeconds: 0 });
  });
  after(async () => f.stop());
  const all = async (action: string) => (await f.audit.query({ action, limit: 10_000 })).entries.reverse();

  describe('appending', () => {
    it('commits entries with the transaction that records them, or not at all', async () => {
      const size = (await f.audit.head()).size;
      await assert.rejects(
        f.dbs.store.transaction(async (trx) => {
          await f.audit.append(trx, [entry(1, { action: 'test.rolled_back' })]);
          throw new Error('the operation failed');
        }),
        /the operation failed/,
      );
      assert.equal((await f.audit.head()).size, size);
      assert.equal((await all('test.rolled_back')).length, 0);
      await f.dbs.store.transaction((trx) => f.audit.append(trx, [entry(1, { action: 'test.committed' })]));
      assert.equal((await f.audit.head()).size, size + 1);
      const [e] = await all('test.committed');
      assert.equal(e?.index, size);
      assert.deepEqual(e?.fields, ['email']);
      assert.equal(e?.purpose, 'marketing');
    });

    it('an append whose later chunk fails fails whole, and leaves the log as it was', async () => {
      const head = await f.audit.head();
      // A row squatting on an index the append reaches in its third chunk of 250: on PostgreSQL that chunk's insert
      // fails while the append is still hashing the next of its forty chunks.
      const squat = head.size + 600;
      const repo = new AuditRepo(f.dbs.store);
      await repo.insertEntries([{ idx: squat, at: Date.now(), actor: 'x', action: 'test.squat', purpose: null, subject_id: null, outcome: 'ok', data: '{}', leaf_hash: Buffer.alloc(32) }]);
      try {
        const many = Array.from({ length: 10_000 }, (_, i) => entry(i, { action: 'test.chunked' }));
        // The insert's own error, not a later chunk's "transaction is aborted".
        await assert.rejects(f.dbs.store.transaction((trx) => f.audit.append(trx, many)), /duplicate key|UNIQUE constraint/);
        assert.deepEqual(await f.audit.head(), head);
        assert.equal((await all('test.chunked')).length, 0);
      } finally {
        await f.dbs.data.deleteFrom('audit_entries').where('idx', '=', squat).execute();
      }
      await f.dbs.store.transaction((trx) => f.audit.append(trx, [entry(1, { action: 'test.after_failure' })]));
      assert.equal((await f.audit.head()).size, head.size + 1);
    });

    // Several instances share a database on PostgreSQL only: SQLite's file has one writing process, and two instances in
    // one thread would each wait, blocking the thread, for the lock the other holds.
    it('interleaves the appends of two instances on one database without losing or reusing an index', { skip: dialect !== 'postgres' && 'one process writes a SQLite file' }, async () => {
      const g = await createFiducia({ ...f.store.options, auditCheckpointSeconds: 0 });
      const appendIfHead = AuditRepo.prototype.appendIfHead;
      let missed = 0;
      AuditRepo.prototype.appendIfHead = async function (this: AuditRepo, ...args: Parameters<typeof appendIfHead>) {
        const ok = await appendIfHead.apply(this, args);
        if (!ok) missed++;
        return ok;
      };
      try {
        const before = (await f.audit.head()).size;
        // 40 entries per append, so that appends of either kind complete stored (256-entry) nodes.
        const pair = (who: string, n: number) => Array.from({ length: 40 }, (_, k) => entry(n, { action: 'test.two', details: { who, n, k } }));
        await Promise.all(
          Array.from({ length: 30 }, (_, i) => [
            f.audit.append(f.dbs.store, pair('f', i)),
            g.audit.append(g.dbs.store, pair('g', i)),
            // A transaction of this instance moves the head too.
            i % 5 === 0 ? f.dbs.store.transaction((trx) => f.audit.append(trx, pair('t', i))) : Promise.resolve(),
          ]).flat(),
        );
        const got = await all('test.two');
        assert.equal(got.length, 40 * (30 + 30 + 6));
        assert.deepEqual(got.map((e) => e.index), Array.from({ length: got.length }, (_, i) => before + i));
        // The entries of one append are adjacent and in order.
        for (let i = 0; i < got.length; i++) {
          assert.deepEqual([got[i]!.details.who, got[i]!.details.n, got[i]!.details.k], [got[i - (i % 40)]!.details.who, got[i - (i % 40)]!.details.n, i % 40]);
        }
        const r = await f.audit.verify();
        assert.equal(r.ok, true, JSON.stringify(r.problems));
        // Each instance extends the head it wrote last: the other's appends make it miss and read the head again.
        assert.ok(missed > 0, 'no append found its head moved');
      } finally {
        AuditRepo.prototype.appendIfHead = appendIfHead;
        await g.close();
      }
    });

    it('gives concurrent appends gap-free indices and a tree that verifies', async () => {
      const before = (await f.audit.head()).size;
      await Promise.all(Array.from({ length: 40 }, (_, i) => f.audit.append(f.dbs.store, [entry(i, { action: 'test.concurrent', details: { n: i } }), entry(i, { action: 'test.concurrent', details: { n: i, second: true } })])));
      const got = await all('test.concurrent');
      assert.equal(got.length, 80);
      assert.deepEqual(got.map((e) => e.index), Array.from({ length: 80 }, (_, i) => before + i));
      // The two entries of one append are adjacent.
      for (let i = 0; i < 80; i += 2) assert.equal(got[i]!.details.n, got[i + 1]!.details.n);
      const r = await f.audit.verify();
      assert.equal(r.ok, true, JSON.stringify(r.problems));
    });

    it('refuses malformed entries before writing anything', async () => {
      const size = (await f.audit.head()).size;
      for (const bad of [{ ...entry(0), action: 'Read' }, { ...entry(0), actor: '' }, { ...entry(0), counts: { n: Number.NaN } }, { ...entry(0), outcome: 'maybe' }]) {
        await assert.rejects(f.audit.append(f.dbs.store, [entry(0), bad as never]), AuditInputError);
      }
      assert.equal((await f.audit.head()).size, size);
    });
  });

  describe('what is recorded without being asked', () => {
    it('records bootstrap token and source creation, and the configuration hash', async () => {
      const [token] = await all('token.create');
      assert.equal(token?.actor, 'system');
      assert.equal(token?.details.role, 'admin');
      assert.equal(typeof token?.details.tokenId, 'string');
      // The server source from FIDUCIA_WRITE_KEY and the browser source the first start makes for web pages.
      assert.deepEqual((await all('source.create')).map((e) => e.details.kind).sort(), ['browser', 'server']);
      const [cfg] = await all('config.changed');
      assert.equal(cfg?.details.hash, f.cfg.hash);
      assert.equal(cfg?.details.previous, null);
    });

    it('records one entry per subject per ingestion batch, consent changes, never values', async () => {
      const consent = await f.app.inject({
        method: 'POST',
        url: '/v1/consent',
        headers: { authorization: basicAuth() },
        payload: { anonymousId: 'a-audit', purposes: { analytics: true, marketing: true }, noticeVersion: '2026-11' },
      });
      assert.equal(consent.statusCode, 200, consent.body);
      const other = await f.app.inject({
        method: 'POST',
        url: '/v1/consent',
        headers: { authorization: basicAuth() },
        payload: { anonymousId: 'other-visitor', purposes: { analytics: true }, noticeVersion: '2026-11' },
      });
      assert.equal(other.statusCode, 200, other.body);
      const r = await f.app.inject({
        method: 'POST',
        url: '/v1/batch',
        headers: { authorization: basicAuth() },
        payload: {
          batch: [
            { type: 'identify', anonymousId: 'a-audit', traits: { email: 'ada.audit@example.com', firstName: 'Ada' } },
            { type: 'track', anonymousId: 'a-audit', event: 'Product Viewed', properties: { product_id: 'p1' } },
            { type: 'track', anonymousId: 'a-audit', event: 'Product Viewed', properties: { product_id: 'p2' } },
            { type: 'track', anonymousId: 'other-visitor', event: 'Product Viewed', properties: { product_id: 'p3' } },
          ],
        },
      });
      assert.equal(r.statusCode, 200, r.body);
      const subject = (await f.dbs.data.selectFrom('consents').select('subject_id').where('purpose', '=', 'marketing').executeTakeFirstOrThrow()).subject_id;
      const consents = (await all('consent.record')).filter((e) => e.subjectId === subject);
      assert.equal(consents.length, 1);
      assert.deepEqual(consents[0]!.fields, ['consent:analytics', 'consent:marketing']);
      const batches = (await all('ingest.batch')).slice(-2);
      const mine = batches.find((e) => e.subjectId === subject);
      assert.ok(mine, 'an entry for the identified subject');
      assert.deepEqual(mine.counts, { events: 2, traits: 2, consents: 0 });
      assert.deepEqual(mine.fields, ['trait:email', 'trait:firstName']); // names only
      assert.match(mine.actor, /^source:/);
      const others = batches.filter((e) => e.subjectId !== subject);
      assert.equal(others.length, 1, 'the other visitor has its own entry');
      assert.deepEqual(others[0]!.counts, { events: 1, traits: 0, consents: 0 });
      const rows = await f.dbs.data.selectFrom('audit_entries').selectAll().execute();
      assert.ok(!JSON.stringify(rows).toLowerCase().includes('ada.audit@example.com'), 'no personal value in the audit log');
    });

    it('records key rotations', async () => {
      const result = await rotateKeys({ ring: f.ring, audit: f.audit, db: f.dbs.store });
      const [e] = (await all('keys.rotate')).slice(-1);
      assert.equal(e?.details.kekVersion, result.kekVersion);
      assert.equal(e?.counts.rewrapped, result.rewrapped);
      assert.ok(result.rewrapped >= 1);
    });
  });

  describe('proofs and checkpoints', () => {
    before(async () => {
      // Past 512 entries, so proofs use stored level-8 and level-9 nodes as well as recomputed small subtrees.
      const size = (await f.audit.head()).size;
      const more = Array.from({ length: Math.max(0, 700 - size) }, (_, i) => entry(i, { action: 'test.fill' }));
      for (let i = 0; i < more.length; i += 250) await f.audit.append(f.dbs.store, more.slice(i, i + 250));
    });

    it('serves inclusion proofs that verify against signed checkpoints', async () => {
      const { size } = await f.audit.head();
      for (const [index, treeSize] of [[0, size], [size - 1, size], [255, 300], [256, 257], [511, 700], [300, 513], [5, 6]] as const) {
        const p = await f.audit.inclusionProof(index, treeSize);
        const proof = p.proof.map((b) => b.toString('base64'));
        assert.deepEqual(checkInclusion(f.audit.signer, p.entry, proof, p.checkpoint.note), { ok: true }, `${index}/${treeSize}`);
        assert.equal(checkInclusion(f.audit.signer, { ...p.entry, actor: 'someone else' }, proof, p.checkpoint.note).ok, false);
      }
      await assert.rejects(f.audit.inclusionProof(size, size), /not in a tree/);
      await assert.rejects(f.audit.inclusionProof(0, size + 1), /entries, not/);
    });

    it('serves consistency proofs between any two sizes', async () => {
      const { size } = await f.audit.head();
      for (const [a, b] of [[1, size], [256, 512], [255, 700], [300, 301], [511, 513], [0, 10], [size, size], [37, 600]] as const) {
        const p = await f.audit.consistencyProof(a, b);
        const ok = checkConsistency(f.audit.signer, p.fromCheckpoint.note, p.toCheckpoint.note, p.proof.map((x) => x.toString('base64')));
        assert.deepEqual(ok, { ok: true }, `${a}→${b}`);
      }
      await assert.rejects(f.audit.consistencyProof(10, 5));
    });

    it('stores a checkpoint when the head moved, and only then; the timer job does the same', async () => {
      const first = await f.audit.checkpoint();
      const again = await f.audit.checkpoint();
      assert.equal(again.note, first.note);
      await f.audit.append(f.dbs.store, [entry(1, { action: 'test.after_checkpoint' })]);
      const job = startCheckpointJob(f.audit, 0, f.logger);
      await job.tick();
      await job.stop();
      const latest = await f.audit.latestCheckpoint();
      assert.equal(latest?.treeSize, first.treeSize + 1);
      const stored = await f.dbs.data.selectFrom('audit_checkpoints').select('tree_size').execute();
      assert.equal(stored.filter((s) => Number(s.tree_size) === first.treeSize).length, 1);
    });
  });

  describe('queries', () => {
    it('filters by subject, actor, action, purpose and time, newest first, in pages', async () => {
      const subject = randomUUID();
      const t0 = Date.now();
      await f.audit.append(f.dbs.store, Array.from({ length: 7 }, (_, i) => ({ ...entry(i), subjectId: subject, action: i < 5 ? 'profile.read' : 'rights.export' })));
      const mine = await f.audit.query({ subjectId: subject, limit: 100 });
      assert.equal(mine.entries.length, 7);
      assert.ok(mine.entries[0]!.index > mine.entries[6]!.index);
      assert.equal((await f.audit.query({ subjectId: subject, action: 'rights.export', limit: 100 })).entries.length, 2);
      assert.equal((await f.audit.query({ subjectId: subject, actor: 'tok_0', limit: 100 })).entries.length, 3);
      assert.equal((await f.audit.query({ subjectId: subject, purpose: 'marketing', limit: 100 })).entries.length, 3);
      assert.equal((await f.audit.query({ subjectId: subject, from: t0 - 1, limit: 100 })).entries.length, 7);
      assert.equal((await f.audit.query({ subjectId: subject, to: t0 - 1, limit: 100 })).entries.length, 0);
      const p1 = await f.audit.query({ subjectId: subject, limit: 3 });
      const p2 = await f.audit.query({ subjectId: subject, limit: 3, before: p1.next! });
      const p3 = await f.audit.query({ subjectId: subject, limit: 3, before: p2.next! });
      assert.deepEqual([...p1.entries, ...p2.entries, ...p3.entries].map((e) => e.index), mine.entries.map((e) => e.index));
      assert.equal(p3.next, null);
    });

    it('searches only the blocks the log has, whatever the cursor', () => {
      const blocks = (below: number) => subjectQuery(dialect, 'someone', { limit: 10 }, 0, below, 5000).compile(f.dbs.data).parameters;
      // PostgreSQL gets the block numbers as one array; SQLite the newest block and the oldest, for its recursive CTE.
      assert.deepEqual(blocks(999_999_999_999_999)[0], dialect === 'postgres' ? [1, 0] : 1);
      assert.deepEqual(blocks(4096)[0], dialect === 'postgres' ? [0] : 0);
    });

    it("finds a person's entries in every block of the subject index, at the blocks' edges", async () => {
      const subject = randomUUID();
      const start = (await f.audit.head()).size;
      const b0 = start + ((AUDIT_SUBJECT_BLOCK - (start % AUDIT_SUBJECT_BLOCK)) % AUDIT_SUBJECT_BLOCK) + AUDIT_SUBJECT_BLOCK;
      // Last of a block, first of the next, and so on over three block boundaries; everyone else is somebody else.
      const mine = [b0 - 1, b0, b0 + 1, b0 + AUDIT_SUBJECT_BLOCK - 1, b0 + AUDIT_SUBJECT_BLOCK, b0 + 2 * AUDIT_SUBJECT_BLOCK];
      const end = b0 + 2 * AUDIT_SUBJECT_BLOCK + 3;
      await f.audit.append(
        f.dbs.store,
        Array.from({ length: end - start }, (_, i) => ({ ...entry(i), subjectId: mine.includes(start + i) ? subject : `other-${i % 50}`, action: start + i === b0 ? 'rights.export' : 'profile.read' })),
      );
      const newestFirst = [...mine].reverse();
      const all = await f.audit.query({ subjectId: subject, limit: 100 });
      assert.deepEqual(all.entries.map((e) => e.index), newestFirst);
      assert.ok(all.entries.every((e) => e.subjectId === subject));
      const before = await f.audit.query({ subjectId: subject, limit: 100, before: b0 + AUDIT_SUBJECT_BLOCK });
      assert.deepEqual(before.entries.map((e) => e.index), newestFirst.filter((i) => i < b0 + AUDIT_SUBJECT_BLOCK));
      assert.deepEqual((await f.audit.query({ subjectId: subject, action: 'rights.export', limit: 100 })).entries.map((e) => e.index), [b0]);
      const pages: number[] = [];
      let next: number | null | undefined;
      do {
        const page = await f.audit.query({ subjectId: subject, limit: 2, ...(next ? { before: next } : {}) });
        pages.push(...page.entries.map((e) => e.index));
        next = page.next;
      } while (next !== null);
      assert.deepEqual(pages, newestFirst);
      assert.deepEqual((await f.audit.query({ subjectId: 'nobody', limit: 100 })).entries, []);
      // A cursor far past the log's end (on SQLite, see the next test: walking every block below it would take hours).
      if (dialect === 'postgres') assert.deepEqual((await f.audit.query({ subjectId: subject, limit: 100, before: 999_999_999_999_999 })).entries.map((e) => e.index), newestFirst);
    });

    it("starts a person's time range in the middle of a block", async () => {
      const subject = randomUUID();
      const start = (await f.audit.head()).size;
      const b0 = start + ((AUDIT_SUBJECT_BLOCK - (start % AUDIT_SUBJECT_BLOCK)) % AUDIT_SUBJECT_BLOCK) + AUDIT_SUBJECT_BLOCK;
      const mine = [b0 + 1, b0 + 2, b0 + AUDIT_SUBJECT_BLOCK - 1, b0 + AUDIT_SUBJECT_BLOCK];
      const rows = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => ({ ...entry(i), subjectId: mine.includes(from + i) ? subject : 'someone else' }));
      // Two appends at two times: the second starts at b0 + 2, inside the block that starts at b0.
      await f.audit.append(f.dbs.store, rows(start, b0 + 2));
      await new Promise((r) => setTimeout(r, 5));
      const t2 = Date.now();
      await new Promise((r) => setTimeout(r, 5));
      await f.audit.append(f.dbs.store, rows(b0 + 2, b0 + AUDIT_SUBJECT_BLOCK + 1));
      const later = await f.audit.query({ subjectId: subject, from: t2, limit: 100 });
      assert.deepEqual(later.entries.map((e) => e.index), [b0 + AUDIT_SUBJECT_BLOCK, b0 + AUDIT_SUBJECT_BLOCK - 1, b0 + 2]);
      const earlier = await f.audit.query({ subjectId: subject, to: t2, limit: 100 });
      assert.deepEqual(earlier.entries.map((e) => e.index), [b0 + 1]);
    });

    it('asks the database for a person through the subject index', async () => {
      const q = subjectQuery(dialect, 'someone', { limit: 10, action: 'profile.read' }, 0, 3 * AUDIT_SUBJECT_BLOCK, 3 * AUDIT_SUBJECT_BLOCK).compile(f.dbs.data);
      let plan: string;
      if (dialect === 'sqlite') {
        plan = (await f.dbs.data.executeQuery(CompiledQuery.raw(`explain query plan ${q.sql}`, [...q.parameters]))).rows.map((r) => String((r as { detail: string }).detail)).join('\n');
      } else {
        // The table is small enough here for a sequential scan to win; what is checked is that the index can serve.
        plan = await f.dbs.data.connection().execute(async (c) => {
          await c.executeQuery(CompiledQuery.raw('set enable_seqscan = off'));
          try {
            const rows = (await c.executeQuery(CompiledQuery.raw(`explain ${q.sql}`, [...q.parameters]))).rows;
            return rows.map((r) => String(Object.values(r as object)[0])).join('\n');
          } finally {
            await c.executeQuery(CompiledQuery.raw('reset enable_seqscan'));
          }
        });
      }
      // Searched by block and subject, not scanned with the block as a filter.
      assert.match(plan, dialect === 'sqlite' ? /SEARCH e USING INDEX audit_entries_subject_block \(<expr>=\? AND subject_id=\?/ : /Index Cond: \(\(\(idx \/ 4096\) = ANY .*AND \(subject_id = /, plan);
    });
  });

  describe('configuration changes', () => {
    it('records a new configuration hash once, at the start that sees it', async () => {
      const opts = f.store.options;
      const count = async () => (await all('config.changed')).length;
      const n = await count();
      await f.close();
      // Same configuration: nothing new.
      let g = await createFiducia(opts);
      assert.equal((await g.audit.query({ action: 'config.changed', limit: 100 })).entries.length, n);
      await g.close();
      // A changed configuration: one entry naming both hashes.
      const changed = join(opts.dataDir, 'changed.yaml');
      writeFileSync(changed, readFileSync(DEFAULT_CONFIG_PATH, 'utf8').replace('name: Example Shop S.r.l.', 'name: Example Shop S.p.A.'));
      g = await createFiducia({ ...opts, configPath: changed });
      const [last] = (await g.audit.query({ action: 'config.changed', limit: 1 })).entries;
      assert.equal(last?.details.hash, g.cfg.hash);
      assert.equal(last?.details.previous, f.cfg.hash);
      assert.notEqual(g.cfg.hash, f.cfg.hash);
      assert.equal((await g.audit.query({ action: 'token.create', limit: 100 })).entries.length, 1, 'the admin token is not created (nor recorded) twice');
      // Give the suite's `after` a live instance to stop.
      f = Object.assign(g, { store: f.store, stop: async () => { await g.close(); await f.store.cleanup(); } });
    });
  });
});
