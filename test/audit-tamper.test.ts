// Adversarial tests of the audit verifier: each attack on the stored log must be detected, on both databases.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, it } from 'node:test';
import { sql } from 'kysely';
import { CheckpointSigner } from '../src/crypto/signed-note.ts';
import { checkConsistency } from '../src/services/audit/audit-proofs.ts';
import type { AuditEntryInput } from '../src/services/audit/audit-port.ts';
import type { VerifyOptions, VerifyReport } from '../src/services/audit/audit-verify.ts';
import { AuditRepo } from '../src/store/audit-repo.ts';
import { dropStoredCheckpoints, rebuildTree, rewindTo, setData, swapEntries } from './helpers/audit-tamper.ts';
import { eachDialect, startFiducia } from './helpers/harness.ts';

const SIZE = 600; // two complete 256-entry blocks (stored level-8 nodes) and a tail of 88

function entries(n: number, tag = 'a'): AuditEntryInput[] {
  return Array.from({ length: n }, (_, i) => ({
    actor: `tok_${tag}${i % 7}`,
    action: i % 2 ? 'profile.read' : 'ingest.batch',
    purpose: i % 2 ? 'personalization' : null,
    subjectId: randomUUID(),
    fields: ['firstName', 'favoriteCategory'],
    counts: { events: i % 5 },
    outcome: 'ok' as const,
    details: { n: i },
  }));
}

const codes = (r: VerifyReport) => r.problems.map((p) => p.code);

await eachDialect('audit tamper evidence', (dialect) => {
  let f: Awaited<ReturnType<typeof startFiducia>>;
  const db = () => f.dbs.data;
  beforeEach(async () => {
    f = await startFiducia(dialect, { auditCheckpointSeconds: 0 });
    const size = (await f.audit.head()).size; // bootstrap entries (token, source, configuration)
    const batch = entries(SIZE - size);
    for (let i = 0; i < batch.length; i += 200) await f.audit.append(f.dbs.store, batch.slice(i, i + 200));
    assert.equal((await f.audit.head()).size, SIZE);
  });
  afterEach(async () => f.stop());
  // Every verification also runs in pages of 256, in this thread alone and with the worker thread started first (a log
  // this small would not start it, and would be done before it is ready): both must report the same.
  const verify = async (opts: VerifyOptions = {}): Promise<VerifyReport> => {
    const alone = await f.audit.verify({ ...opts, worker: false, pageSize: 256 });
    const shared = await f.audit.verify({ ...opts, worker: 'wait', pageSize: 256 });
    assert.deepEqual(shared, alone, 'the worker thread reports what this thread does');
    return f.audit.verify(opts);
  };

  it('passes an untouched log, and compares the stored nodes', async () => {
    await f.audit.checkpoint();
    const r = await verify();
    assert.equal(r.ok, true, JSON.stringify(r.problems));
    assert.equal(r.entries, SIZE);
    assert.equal(r.firstBadEntry, undefined);
    assert.ok(r.nodesChecked >= 2, `nodes checked: ${r.nodesChecked}`);
    assert.equal(r.computedRoot, r.head.rootHash);
    // Pages smaller than a block and not a multiple of it: the same report.
    assert.deepEqual(await verify({ pageSize: 100 }), r);
  });

  it('hashes what the database gives back, also for text it must normalize', async () => {
    // A lone surrogate cannot be stored as UTF-8, nor NUL in PostgreSQL: the entry is recorded with U+FFFD, and verifies.
    // The verifier's quoting must be JSON.stringify's for every character, as the append's is.
    const actor = 'tok_"\\/\b\f\n\r\t\u0001\u001f\u007f\u2028é😀\ud800x';
    await f.audit.append(f.dbs.store, [{ actor, action: 'test.unicode', purpose: '\u0000é', subjectId: 's\udc00', fields: ['f\ud800'], details: { k: '\u0000\u2028"' }, outcome: 'ok' }]);
    const r = await verify();
    assert.equal(r.ok, true, JSON.stringify(r.problems));
    const [e] = (await f.audit.query({ action: 'test.unicode', limit: 1 })).entries;
    assert.equal(e?.actor, actor.replace('\ud800', '\ufffd'));
    assert.equal(e?.purpose, '\ufffdé');
    assert.deepEqual(e?.fields, ['f\ud800']);
  });

  it('encodes every code point as the appending side did (the database splices the text on SQLite)', async () => {
    // Every UTF-16 unit but the surrogates (and NUL, which PostgreSQL refuses): alone up to U+07FF (where quoting rules
    // differ from one character to the next), 2,000 to an entry above; and astral ones.
    const batch: AuditEntryInput[] = [];
    for (let c = 1; c < 0x800; c++) batch.push({ actor: `tok_${String.fromCharCode(c)}`, action: 'test.quoting', purpose: String.fromCharCode(c), outcome: 'ok' });
    const units: string[] = [];
    for (let c = 0x800; c < 0x10000; c++) if (c < 0xd800 || c > 0xdfff) units.push(String.fromCharCode(c));
    for (let i = 0; i < units.length; i += 2000) {
      const text = units.slice(i, i + 2000).join('');
      batch.push({ actor: `tok_${text.slice(0, 100)}`, action: 'test.quoting', purpose: text, subjectId: text.slice(0, 300), outcome: 'ok', details: { s: '😀\u{10ffff}' } });
    }
    await f.audit.append(f.dbs.store, batch);
    const r = await verify();
    assert.equal(r.ok, true, JSON.stringify(r.problems.slice(0, 3)));
  });

  it('names an edited entry (inside a stored block, and in the tail)', async () => {
    for (const index of [100, 590]) {
      const row = await db().selectFrom('audit_entries').select('data').where('idx', '=', index).executeTakeFirstOrThrow();
      await setData(db(), index, row.data.replace('"favoriteCategory"', '"email"'));
      const r = await verify();
      assert.equal(r.ok, false);
      assert.equal(r.firstBadEntry, 100);
      assert.ok(r.problems.some((p) => p.code === 'entry_modified' && p.index === index), JSON.stringify(r.problems));
    }
  });

  it('detects an edited column other than data (who, what, whom)', async () => {
    await db().updateTable('audit_entries').set({ actor: 'tok_innocent' }).where('idx', '=', 300).execute();
    await db().updateTable('audit_entries').set({ subject_id: randomUUID() }).where('idx', '=', 301).execute();
    const r = await verify();
    assert.equal(r.ok, false);
    assert.equal(r.firstBadEntry, 300);
    assert.deepEqual(r.problems.filter((p) => p.code === 'entry_modified').map((p) => p.index), [300, 301]);
  });

  // Entry `idx` edited and its leaf hash recomputed to match: only the stored tree can tell.
  const editWithLeafHash = async (idx: number) => {
    const row = await db().selectFrom('audit_entries').selectAll().where('idx', '=', idx).executeTakeFirstOrThrow();
    const { canonicalEntryBytes } = await import('../src/domain/audit-entry.ts');
    const { leafHash } = await import('../src/domain/merkle.ts');
    const { partsOfRow } = await import('../src/services/audit/audit-log.ts');
    const data = row.data.replace('"firstName"', '"lastName"');
    const leaf = leafHash(canonicalEntryBytes({ ...partsOfRow(row), dataJson: data }));
    await db().updateTable('audit_entries').set({ data, leaf_hash: leaf }).where('idx', '=', idx).execute();
  };

  it('detects an edit whose leaf hash was recomputed too (the stored tree no longer agrees)', async () => {
    await editWithLeafHash(50);
    const r = await verify();
    assert.equal(r.ok, false);
    assert.ok(r.problems.some((p) => p.code === 'node_mismatch' && p.range?.[0] === 0), JSON.stringify(r.problems));
    assert.ok(codes(r).includes('head_mismatch'));
  });

  it('still compares the stored nodes before a deleted entry, in whatever pages', async () => {
    await editWithLeafHash(50);
    await db().deleteFrom('audit_entries').where('idx', '=', 300).execute();
    const whole = await f.audit.verify({ worker: false });
    const paged = await f.audit.verify({ worker: false, pageSize: 256 });
    assert.ok(whole.problems.some((p) => p.code === 'node_mismatch' && p.range?.[0] === 0), JSON.stringify(whole.problems));
    assert.ok(whole.problems.some((p) => p.code === 'entry_missing' && p.index === 300));
    // The same problems, found in another order.
    const sorted = (r: VerifyReport) => r.problems.map((p) => JSON.stringify(p)).sort();
    assert.deepEqual(sorted(paged), sorted(whole));
  });

  it('names a deleted entry', async () => {
    await db().deleteFrom('audit_entries').where('idx', '=', 300).execute();
    const r = await verify();
    assert.equal(r.ok, false);
    assert.equal(r.firstBadEntry, 300);
    assert.ok(r.problems.some((p) => p.code === 'entry_missing' && p.index === 300));
    // Read in pages of 256, the page holding the gap ends where it should, not one row into the next page.
    const paged = await f.audit.verify({ worker: false, pageSize: 256 });
    assert.deepEqual(paged.problems, r.problems);
  });

  it('names entries written behind the head, near it and far beyond it', async () => {
    const row = await db().selectFrom('audit_entries').selectAll().where('idx', '=', SIZE - 1).executeTakeFirstOrThrow();
    await db().insertInto('audit_entries').values([{ ...row, idx: SIZE }, { ...row, idx: 5000 }]).execute();
    const r = await verify();
    assert.equal(r.ok, false);
    assert.equal(r.firstBadEntry, SIZE);
    assert.deepEqual(r.problems.map((p) => [p.code, p.index]), [['entry_unexpected', SIZE], ['entry_unexpected', 5000]]);
  });

  it('names a deleted entry in an early page when later pages hold whole blocks', async () => {
    await db().deleteFrom('audit_entries').where('idx', '=', 100).execute();
    const r = await verify();
    assert.equal(r.ok, false);
    assert.equal(r.firstBadEntry, 100);
    assert.ok(r.problems.some((p) => p.code === 'entry_missing' && p.index === 100), JSON.stringify(r.problems));
  });

  it('checks the tree at a checkpoint inside a block, not only at block ends', async () => {
    await rewindTo(db(), 300);
    await dropStoredCheckpoints(db());
    const at300 = (await f.audit.checkpoint()).note;
    await f.audit.append(f.dbs.store, entries(SIZE - 300, 'b'));
    // Entry 10 rewritten and the whole tree rebuilt to match: only the checkpoint at 300 (mid-block) can tell.
    await db().updateTable('audit_entries').set({ actor: 'tok_innocent' }).where('idx', '=', 10).execute();
    await rebuildTree(db());
    await dropStoredCheckpoints(db());
    const r = await verify({ checkpoints: [at300] });
    assert.equal(r.ok, false);
    assert.deepEqual(r.problems.map((p) => [p.code, p.range]), [['checkpoint_mismatch', [0, 300]]]);
  });

  it('names a row written below index 0 (where no page starts)', async () => {
    const row = await db().selectFrom('audit_entries').selectAll().where('idx', '=', 5).executeTakeFirstOrThrow();
    await db().insertInto('audit_entries').values({ ...row, idx: -1, actor: 'tok_forged' }).execute();
    const r = await verify();
    assert.equal(r.ok, false);
    assert.equal(r.firstBadEntry, 0);
    assert.deepEqual(r.problems.map((p) => [p.code, p.index]), [['entry_unexpected', -1]]);
  });

  it('raises no alarm for entries appended while it runs', async () => {
    const head = AuditRepo.prototype.head;
    for (const worker of [false, true]) {
      let appended = false;
      // The head is read, then another request appends (and moves the head) before the entries are read.
      AuditRepo.prototype.head = async function (this: AuditRepo) {
        const h = await head.call(this);
        if (!appended) {
          appended = true;
          await f.audit.append(f.dbs.store, entries(3, 'late'));
        }
        return h;
      };
      try {
        const r = await f.audit.verify({ worker: worker && 'wait', pageSize: 256 });
        assert.ok(appended, 'the append ran during verification');
        assert.equal(r.ok, true, JSON.stringify(r.problems));
        assert.equal(r.entries, r.head.size);
      } finally {
        AuditRepo.prototype.head = head;
      }
    }
    assert.equal((await verify()).ok, true);
  });

  // Skipped when the suite is defined, not while it runs: a test skipped from inside leaves its beforeEach store behind.
  it('on SQLite, names rows whose columns hold what no append writes (any type goes into any column there)', { skip: dialect !== 'sqlite' && 'PostgreSQL column types rule these out' }, async () => {
    const run = (q: string) => sql.raw(q).execute(db());
    // A blob where text belongs.
    await run("update audit_entries set actor = x'00ff' where idx = 300");
    // Text moved between `at` and `data` so that the spliced text stays byte for byte the same.
    const row = await db().selectFrom('audit_entries').select(['at', 'data']).where('idx', '=', 301).executeTakeFirstOrThrow();
    const cut = row.data.indexOf('},"details"');
    await db().updateTable('audit_entries').set({ at: `${row.at},"data":${row.data.slice(0, cut)}` as unknown as number, data: row.data.slice(cut) }).where('idx', '=', 301).execute();
    // Indices no range reaches, and a fraction.
    await run('update audit_entries set idx = 302.5 where idx = 302');
    await run("insert into audit_entries select 'x', at, actor, action, purpose, subject_id, outcome, data, leaf_hash from audit_entries where idx = 5");
    await run('insert into audit_entries select null, at, actor, action, purpose, subject_id, outcome, data, leaf_hash from audit_entries where idx = 6');
    const r = await verify();
    assert.equal(r.ok, false);
    assert.equal(r.firstBadEntry, 0);
    const modified = r.problems.filter((p) => p.code === 'entry_modified').map((p) => p.index);
    assert.ok([300, 301, 302.5].every((i) => modified.includes(i)), JSON.stringify(r.problems));
    assert.ok(r.problems.some((p) => p.code === 'entry_unexpected' && p.message.startsWith('3 rows have an index')), JSON.stringify(r.problems));
  });

  it('names the first of two swapped entries', async () => {
    await swapEntries(db(), 10, 20);
    const r = await verify();
    assert.equal(r.ok, false);
    assert.equal(r.firstBadEntry, 10);
    assert.deepEqual(r.problems.filter((p) => p.code === 'entry_modified').map((p) => p.index), [10, 20]);
  });

  it('detects a truncated log: rows cut, then the head rewritten, then the stored checkpoints removed too', async () => {
    const exported = (await f.audit.checkpoint()).note;
    await db().deleteFrom('audit_entries').where('idx', '>=', 550).execute();
    let r = await verify();
    assert.equal(r.ok, false);
    assert.equal(r.firstBadEntry, 550);

    // A careful attacker also rewrites the head; the stored checkpoint at 600 still covers the missing entries.
    await rewindTo(db(), 550);
    r = await verify();
    assert.equal(r.ok, false);
    assert.equal(r.firstBadEntry, 550);
    assert.ok(codes(r).includes('log_truncated'));

    // With the stored checkpoints gone too, only a checkpoint kept elsewhere can tell.
    await dropStoredCheckpoints(db());
    r = await verify();
    assert.equal(r.ok, true, 'without any checkpoint a consistent rewrite cannot be told apart (documented)');
    r = await verify({ checkpoints: [exported] });
    assert.equal(r.ok, false);
    assert.equal(r.firstBadEntry, 550);
    assert.deepEqual(r.problems.map((p) => p.code), ['log_truncated']);
  });

  it('rejects a forged checkpoint signature', async () => {
    const good = (await f.audit.checkpoint()).note;
    const [origin, size, root, time, blank, sig] = good.split('\n');
    // A bigger tree size under the real signature line.
    const bigger = [origin, String(Number(size) + 10), root, time, blank, sig, ''].join('\n');
    // A flipped bit in the signature.
    const raw = Buffer.from(sig!.split(' ').pop()!, 'base64');
    raw[10]! ^= 1;
    const flipped = [origin, size, root, time, blank, `${sig!.split(' ').slice(0, -1).join(' ')} ${raw.toString('base64')}`, ''].join('\n');
    // A well-formed note signed by another key that claims this log's name.
    const other = CheckpointSigner.generate().signer;
    const foreign = other.sign(Number(size), Buffer.from(root!, 'base64'), Date.now()).note.replaceAll(other.origin, f.audit.signer.origin);
    for (const note of [bigger, flipped, foreign]) {
      const r = await verify({ checkpoints: [note] });
      assert.equal(r.ok, false, note);
      assert.deepEqual(codes(r), ['checkpoint_invalid']);
    }
    // The same forgery stored in the database is caught as well.
    await db().updateTable('audit_checkpoints').set({ note: bigger }).execute();
    const r = await verify();
    assert.equal(r.ok, false);
    assert.ok(codes(r).includes('checkpoint_invalid'));
  });

  it('rejects a checkpoint from a forked log', async () => {
    const original = (await f.audit.checkpoint()).note; // size 600, kept elsewhere
    // The log is cut back to 400 (stored checkpoints removed) and grows again with other entries: a fork that the
    // server itself signs as it goes.
    await rewindTo(db(), 400);
    await dropStoredCheckpoints(db());
    await f.audit.append(f.dbs.store, entries(250, 'fork'));
    const fork = await f.audit.checkpoint();
    assert.equal(fork.treeSize, 650);
    assert.equal((await verify()).ok, true, 'the fork is consistent in itself');
    const r = await verify({ checkpoints: [original] });
    assert.equal(r.ok, false);
    const p = r.problems.find((x) => x.code === 'checkpoint_mismatch');
    assert.ok(p, JSON.stringify(r.problems));
    assert.deepEqual(p.range, [0, 600]);
    // And no consistency proof can bridge the two branches.
    const proof = await f.audit.consistencyProof(600, 650);
    assert.deepEqual(checkConsistency(f.audit.signer, original, fork.note, proof.proof.map((b) => b.toString('base64'))).ok, false);
  });

  it('rejects a consistency proof that skips entries', async () => {
    const c300 = (await f.audit.consistencyProof(300, 300)).fromCheckpoint.note;
    const honest = await f.audit.consistencyProof(300, SIZE);
    const proof = honest.proof.map((b) => b.toString('base64'));
    const c600 = honest.toCheckpoint.note;
    assert.deepEqual(checkConsistency(f.audit.signer, c300, c600, proof), { ok: true });
    // The same proof presented for other sizes, or with a node left out, proves nothing.
    const c299 = (await f.audit.consistencyProof(299, 299)).fromCheckpoint.note;
    const c599 = (await f.audit.consistencyProof(599, 599)).fromCheckpoint.note;
    assert.equal(checkConsistency(f.audit.signer, c299, c600, proof).ok, false);
    assert.equal(checkConsistency(f.audit.signer, c300, c599, proof).ok, false);
    assert.equal(checkConsistency(f.audit.signer, c300, c600, proof.slice(1)).ok, false);
    assert.equal(checkConsistency(f.audit.signer, c300, c600, [...proof.slice(0, -1)]).ok, false);
    // A server that dropped entry 450 and appended one more to keep the size: its proof from 300 to 600 does not link
    // the old signed root to the new signed root the client already holds.
    await db().deleteFrom('audit_entries').where('idx', '=', 450).execute();
    await rebuildTree(db());
    await f.audit.append(f.dbs.store, entries(1, 'filler'));
    const skipping = await f.audit.consistencyProof(300, SIZE);
    assert.equal(checkConsistency(f.audit.signer, c300, c600, skipping.proof.map((b) => b.toString('base64'))).ok, false);
    // Its own freshly signed 600-root differs from the one the client kept: the two signed roots are the evidence.
    assert.notEqual(skipping.toCheckpoint.note.split('\n')[2], c600.split('\n')[2]);
    // And verification against the kept checkpoint names the range.
    const r = await verify({ checkpoints: [c600] });
    assert.equal(r.ok, false);
    assert.ok(r.problems.some((p) => p.code === 'checkpoint_mismatch'));
  });

  it('detects a rewritten stored node and a rewritten head', async () => {
    await db().updateTable('audit_nodes').set({ hash: Buffer.alloc(32, 1) }).where('level', '=', 8).where('idx', '=', 1).execute();
    let r = await verify();
    assert.equal(r.ok, false);
    assert.ok(r.problems.some((p) => p.code === 'node_mismatch' && p.range?.[0] === 256), JSON.stringify(r.problems));
    assert.equal(r.firstBadEntry, undefined, 'the entries themselves are intact');
    await rebuildTree(db());
    await db().updateTable('audit_head').set({ root: Buffer.alloc(32, 2) }).execute();
    r = await verify();
    assert.equal(r.ok, false);
    assert.ok(codes(r).includes('head_mismatch'));
  });
});
