// The audit log's HTTP API: roles, verification, checkpoints, proofs a client can check, and the DPO's queries.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { CheckpointVerifier } from '../src/crypto/signed-note.ts';
import { checkConsistency, checkInclusion } from '../src/services/audit/audit-proofs.ts';
import { ADMIN_TOKEN, basicAuth, eachDialect, startFiducia } from './helpers/harness.ts';

await eachDialect('audit API', (dialect) => {
  let f: Awaited<ReturnType<typeof startFiducia>>;
  const tokens: Record<string, string> = {};
  const get = (url: string, token = tokens.dpo!) => f.app.inject({ method: 'GET', url, headers: { authorization: `Bearer ${token}` } });
  before(async () => {
    f = await startFiducia(dialect, { auditCheckpointSeconds: 0 });
    tokens.admin = ADMIN_TOKEN;
    for (const role of ['dpo', 'analyst'] as const) tokens[role] = (await f.access.createToken({ name: role, role, purposes: [] })).token;
    tokens.service = (await f.access.createToken({ name: 'svc', role: 'service', purposes: ['marketing'] })).token;
    const consent = await f.app.inject({
      method: 'POST',
      url: '/v1/consent',
      headers: { authorization: basicAuth() },
      payload: { userId: 'u-api', purposes: { marketing: true }, noticeVersion: '2026-11' },
    });
    assert.equal(consent.statusCode, 200, consent.body);
  });
  after(async () => f.stop());

  describe('access', () => {
    it('is for dpo and admin only; refusals are audited', async () => {
      for (const url of ['/api/v1/audit', '/api/v1/audit/verify', '/api/v1/audit/checkpoint', '/api/v1/audit/proof/inclusion?index=0', '/api/v1/audit/proof/consistency?from=0', '/api/v1/audit/key']) {
        assert.equal((await f.app.inject({ method: 'GET', url })).statusCode, 401, url);
        assert.equal((await get(url, tokens.analyst)).statusCode, 403, url);
        assert.equal((await get(url, tokens.service)).statusCode, 403, url);
        assert.equal((await get(url, tokens.admin)).statusCode, 200, url);
        assert.equal((await get(url)).statusCode, 200, url);
      }
      const denied = (await f.audit.query({ action: 'authz.denied', limit: 100 })).entries;
      assert.ok(denied.length >= 12);
      assert.ok(denied.every((e) => e.outcome === 'denied'));
    });
  });

  describe('verification and checkpoints', () => {
    it('verifies the log and records that it did', async () => {
      const r = await get('/api/v1/audit/verify');
      assert.equal(r.statusCode, 200, r.body);
      const body = r.json() as { ok: boolean; entries: number; head: { size: number; rootHash: string }; firstBadEntry?: number };
      assert.equal(body.ok, true);
      assert.equal(body.entries, body.head.size);
      assert.equal(body.firstBadEntry, undefined);
      const [last] = (await f.audit.query({ action: 'audit.verify', limit: 1 })).entries;
      assert.equal(last?.outcome, 'ok');
      assert.equal(last?.counts.entries, body.entries);
    });

    it('names the first bad entry after tampering', async () => {
      const idx = 2;
      const row = await f.dbs.data.selectFrom('audit_entries').select('data').where('idx', '=', idx).executeTakeFirstOrThrow();
      await f.dbs.data.updateTable('audit_entries').set({ data: row.data.replace('}', ',"x":1}') }).where('idx', '=', idx).execute();
      const r = (await get('/api/v1/audit/verify')).json() as { ok: boolean; firstBadEntry?: number };
      assert.equal(r.ok, false);
      assert.equal(r.firstBadEntry, idx);
      await f.dbs.data.updateTable('audit_entries').set({ data: row.data }).where('idx', '=', idx).execute();
      assert.equal(((await get('/api/v1/audit/verify')).json() as { ok: boolean }).ok, true);
    });

    it('exports a signed checkpoint as JSON and as a note, checkable with the published key', async () => {
      const json = (await get('/api/v1/audit/checkpoint')).json() as { treeSize: number; rootHash: string; note: string; keyId: string; origin: string };
      const note = await get('/api/v1/audit/checkpoint?format=note');
      assert.match(String(note.headers['content-type']), /^text\/plain/);
      assert.equal(note.body, json.note);
      const key = (await get('/api/v1/audit/key')).json() as { publicKey: string; keyId: string; origin: string };
      const verifier = new CheckpointVerifier(Buffer.from(key.publicKey, 'base64'));
      const opened = verifier.open(note.body);
      assert.ok(opened.ok);
      assert.equal(opened.checkpoint.treeSize, json.treeSize);
      assert.equal(opened.checkpoint.rootHash.toString('base64'), json.rootHash);
      assert.equal(key.keyId, json.keyId);
      assert.match(note.body, /^fiducia\/audit\/[0-9a-f]{16}\n\d+\n[A-Za-z0-9+/=]{44}\ntime \d+\n\n\u2014 /);
    });

    it('serves inclusion and consistency proofs a client verifies on its own', async () => {
      const key = (await get('/api/v1/audit/key')).json() as { publicKey: string };
      const verifier = new CheckpointVerifier(Buffer.from(key.publicKey, 'base64'));
      const incl = (await get('/api/v1/audit/proof/inclusion?index=1')).json() as {
        entry: { index: number; at: string } & Record<string, unknown>;
        proof: string[];
        checkpoint: { note: string };
      };
      const entry = { ...incl.entry, at: Date.parse(incl.entry.at) } as unknown as Parameters<typeof checkInclusion>[1];
      assert.deepEqual(checkInclusion(verifier, entry, incl.proof, incl.checkpoint.note), { ok: true });
      const cons = (await get('/api/v1/audit/proof/consistency?from=2')).json() as { proof: string[]; fromCheckpoint: { note: string }; toCheckpoint: { note: string }; to: number };
      assert.deepEqual(checkConsistency(verifier, cons.fromCheckpoint.note, cons.toCheckpoint.note, cons.proof), { ok: true });
      for (const url of ['/api/v1/audit/proof/inclusion?index=99999', '/api/v1/audit/proof/consistency?from=5&to=2', '/api/v1/audit/proof/inclusion?index=-1', '/api/v1/audit/proof/inclusion']) {
        const r = await get(url);
        assert.equal(r.statusCode, 400, `${url} ${r.body}`);
        assert.equal((r.json() as { error: { code: string } }).error.code, 'FIDUCIA_VALIDATION');
      }
    });
  });

  describe('queries', () => {
    it('answers "who touched this person, and why" by identity or subject id, in pages', async () => {
      const subject = (await f.dbs.data.selectFrom('consents').select('subject_id').executeTakeFirstOrThrow()).subject_id;
      await f.audit.append(f.dbs.store, [
        { actor: 'tok_reader', action: 'profile.read', purpose: 'marketing', subjectId: subject, fields: ['email'], outcome: 'ok' },
        { actor: 'tok_reader', action: 'profile.read', purpose: 'marketing', subjectId: subject, fields: ['email', 'firstName'], outcome: 'ok' },
      ]);
      const byId = (await get(`/api/v1/audit?subject=${subject}`)).json() as { entries: { action: string; at: string; fields: string[]; subjectId: string }[]; next: number | null };
      const byIdentity = (await get('/api/v1/audit?subject=userId:u-api')).json() as typeof byId;
      // The same trail, plus the first query itself: reading someone's audit trail is on record under them.
      assert.equal(byIdentity.entries[0]!.action, 'audit.query');
      assert.deepEqual(byIdentity.entries.slice(1), byId.entries);
      assert.deepEqual(byId.entries.map((e) => e.action).slice(0, 2), ['profile.read', 'profile.read']);
      assert.ok(byId.entries.some((e) => e.action === 'consent.record'));
      assert.match(byId.entries[0]!.at, /^\d{4}-\d\d-\d\dT/);
      const page = (await get(`/api/v1/audit?subject=${subject}&action=profile.read&purpose=marketing&actor=tok_reader&limit=1`)).json() as typeof byId;
      assert.deepEqual(page.entries[0]!.fields, ['email', 'firstName']);
      const next = (await get(`/api/v1/audit?subject=${subject}&action=profile.read&limit=1&before=${page.next}`)).json() as typeof byId;
      assert.deepEqual(next.entries[0]!.fields, ['email']);
      const future = new Date(Date.now() + 86_400_000).toISOString();
      assert.equal(((await get(`/api/v1/audit?subject=${subject}&from=${encodeURIComponent(future)}`)).json() as typeof byId).entries.length, 0);
      assert.equal(((await get('/api/v1/audit?subject=email:nobody@example.com')).json() as typeof byId).entries.length, 0);
      // The query itself is on record, under the asking token and the person asked about.
      const [q] = (await f.audit.query({ action: 'audit.query', subjectId: subject, limit: 1 })).entries;
      assert.equal(q?.outcome, 'ok');
      for (const bad of ['/api/v1/audit?limit=0', '/api/v1/audit?subject=fax:123', '/api/v1/audit?from=yesterday', '/api/v1/audit?color=red']) {
        assert.equal((await get(bad)).statusCode, 400, bad);
      }
    });
  });
});
