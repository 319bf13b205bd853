// Destinations under failure (issue 16): a server killed with SIGKILL while requests are in flight loses nothing once
// restarted on the same storage (at least once, the copies of a message sharing its `webhook-id` and body), and two
// processes sharing one PostgreSQL schema never send the same outbox row at once, each row going out exactly once.
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { createFiducia, optionsFromEnv, type Fiducia } from '../src/app.ts';
import { DEFAULT_CONFIG_PATH, loadPrivacyConfig } from '../src/services/config/config-loader.ts';
import { ADMIN_TOKEN, WRITE_KEY, basicAuth, cliEnv, dialects, eachDialect, freshStore, type StoreHandle, freePort } from './helpers/harness.ts';
import { Receiver, type Received } from './helpers/receiver.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const staff = { authorization: `Bearer ${ADMIN_TOKEN}` };

/** The shipped configuration plus one webhook destination serving marketing (purchases reach it). */
function configWith(receiverUrl: string): { dir: string; path: string } {
  const dir = mkdtempSync(join(tmpdir(), 'fiducia-crash-'));
  const path = join(dir, 'fiducia.yaml');
  const hook = `  - { id: hook, kind: webhook, purposes: [marketing], endpoint: "${receiverUrl}/hooks", secretEnv: SECRET_HOOK, country: IT, allowPrivateNetwork: true }\n`;
  writeFileSync(path, `${readFileSync(DEFAULT_CONFIG_PATH, 'utf8')}\ndestinations:\n${hook}`);
  return { dir, path };
}

/** Polls `check` every 10 ms until it holds, or fails after `ms` with `what` and the state `describe` gives. */
async function waitFor(what: string, check: () => boolean | Promise<boolean>, ms: number, state: () => string = () => ''): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail(`timed out after ${ms} ms waiting for ${what} ${state()}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

interface Child {
  proc: ChildProcessWithoutNullStreams;
  url: string;
  output: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** `fiducia start` (compiled, plain Node) as a child process, resolved once it listens. */
async function startChild(env: NodeJS.ProcessEnv): Promise<Child> {
  const port = await freePort();
  const proc = spawn(process.execPath, ['bin/fiducia.js', 'start'], { cwd: ROOT, env: { ...env, PORT: String(port), HOST: '127.0.0.1' } });
  let out = '';
  proc.stdout.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => proc.on('exit', (code, signal) => resolve({ code, signal })));
  let gone = false;
  void exited.then(() => (gone = true));
  try {
    await waitFor('the server to start', () => gone || /Privacy center:/.test(out), 30_000, () => out);
  } catch (err) {
    proc.kill('SIGKILL');
    throw err;
  }
  assert.equal(gone, false, `the server exited before listening:\n${out}`);
  return { proc, url: `http://127.0.0.1:${port}`, output: () => out, exited };
}

async function post(url: string, body: unknown): Promise<void> {
  const r = await fetch(url, { method: 'POST', headers: { authorization: basicAuth(), 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const text = await r.text();
  assert.equal(r.status, 200, `${url}: ${r.status} ${text}`);
}

interface Listed {
  id: string;
  status: string;
  attempts: number;
  lastError: string | null;
}

async function listDeliveries(url: string): Promise<Listed[]> {
  const r = await fetch(`${url}/api/v1/destinations/hook/deliveries?limit=500`, { headers: staff });
  const text = await r.text();
  assert.equal(r.status, 200, text);
  return (JSON.parse(text) as { deliveries: Listed[] }).deliveries;
}

const dataOf = (m: Received) => m.body.data as { properties: { order_id: string; total: number } };
const orderOf = (m: Received) => dataOf(m).properties.order_id;
/** A body without the send time, which each copy sets anew. */
const withoutSendTime = (m: Received) => ({ ...m.body, timestamp: undefined });

/**
 * Sets the receiver's answer delay and counts the requests of one person being answered at once: each person's queue
 * sends one message at a time, whichever process sends it (the order id is `<person>-<n>`).
 */
function perPersonInFlight(receiver: Receiver, delayMs: () => number): { max: () => number } {
  const personOf = (r: Received) => orderOf(r).replace(/-\d+$/, '');
  const now = new Map<string, number>();
  let max = 0;
  receiver.delayMs = (r) => {
    const n = (now.get(personOf(r)) ?? 0) + 1;
    now.set(personOf(r), n);
    max = Math.max(max, n);
    return delayMs();
  };
  receiver.answer = (r) => {
    now.set(personOf(r), (now.get(personOf(r)) ?? 1) - 1);
    return 200;
  };
  return { max: () => max };
}

before(() => {
  // `fiducia start` runs dist/: build it when a source is newer (in CI, `npm ci` has just built it).
  const r = spawnSync(process.execPath, ['scripts/build.mjs', '--if-stale'], { cwd: ROOT, encoding: 'utf8', timeout: 300_000 });
  assert.equal(r.status, 0, `the build failed:\n${r.stdout}${r.stderr}`);
});

await eachDialect('destinations: a server killed while sending', (dialect) => {
  const receiver = new Receiver();
  let cfg: { dir: string; path: string };
  let store: StoreHandle;
  const children: Child[] = [];
  before(async () => {
    await receiver.start();
    cfg = configWith(receiver.url);
    store = freshStore(dialect);
  });
  after(async () => {
    for (const c of children) c.proc.kill('SIGKILL');
    await Promise.all(children.map((c) => c.exited));
    await receiver.stop();
    await store?.cleanup();
    if (cfg) rmSync(cfg.dir, { recursive: true, force: true });
  });

  it('loses nothing on restart: every message arrives, copies share their id and body, each person in order', async () => {
    const env = cliEnv(store.options);
    delete env.NODE_OPTIONS;
    Object.assign(env, {
      LOG_LEVEL: 'warn',
      FIDUCIA_CONFIG: cfg.path,
      FIDUCIA_ADMIN_TOKEN: ADMIN_TOKEN,
      FIDUCIA_WRITE_KEY: WRITE_KEY,
      SECRET_HOOK: receiver.secret,
      // What the killed process had claimed is free again this soon (the default is a minute).
      FIDUCIA_DELIVERY_LEASE_MS: '1500',
      FIDUCIA_AUDIT_CHECKPOINT_SECONDS: '0',
      FIDUCIA_RETENTION_SWEEP_MINUTES: '0',
      FIDUCIA_DEMO: '0',
    });
    // Each answer takes 200 ms, so that requests are in flight when the process dies.
    const samePerson = perPersonInFlight(receiver, () => 200);
    const first = await startChild(env);
    children.push(first);

    const people = ['ann', 'bob', 'cat'].map((p) => `${p}-${dialect}`);
    const perPerson = 10;
    const noticeVersion = loadPrivacyConfig(cfg.path).config.notice.current;
    for (const p of people) await post(`${first.url}/v1/consent`, { anonymousId: p, purposes: { marketing: true }, noticeVersion });
    // 30 purchases in three batches (three group commits), the people interleaved; `total` is the order collected.
    const t0 = Date.parse('2026-01-01T00:00:00Z');
    for (const [from, to] of [[0, 4], [4, 7], [7, perPerson]] as const) {
      const batch = [];
      for (let i = from; i < to; i++) {
        for (const p of people) {
          batch.push({ type: 'track', anonymousId: p, event: 'Order Completed', messageId: `${p}-${i}`, timestamp: new Date(t0 + i * 1000).toISOString(), properties: { order_id: `${p}-${i}`, total: i } });
        }
      }
      await post(`${first.url}/v1/batch`, { batch });
    }
    const expected = people.flatMap((p) => Array.from({ length: perPerson }, (_, i) => `${p}-${i}`));

    // Killed once a few messages were answered and while at least one request is unanswered.
    const inFlight = () => [...receiver.inFlight].filter(([, n]) => n > 0).map(([id]) => id);
    await waitFor('some answered and some in flight', () => receiver.received.length >= 4 && inFlight().length > 0, 20_000, () => `(received ${receiver.received.length})\n${first.output()}`);
    const unanswered = inFlight();
    first.proc.kill('SIGKILL');
    const end = await first.exited;
    assert.equal(end.signal, 'SIGKILL', `the first process ended by ${end.signal ?? end.code}, not SIGKILL`);
    assert.ok(unanswered.length > 0, 'requests were in flight at the kill');
    const atKill = new Set(receiver.received.map(orderOf));
    assert.ok(atKill.size < expected.length, `some messages were still to be sent at the kill (${atKill.size} of ${expected.length} arrived)`);

    // The second process, on the same storage and master key, sends the rest, and what was in flight again.
    const second = await startChild(env);
    children.push(second);
    await waitFor(
      'every row delivered after the restart',
      async () => new Set(receiver.received.map(orderOf)).size === expected.length && (await listDeliveries(second.url)).every((d) => d.status === 'delivered'),
      30_000,
      () => `(arrived: ${new Set(receiver.received.map(orderOf)).size} of ${expected.length})\n${second.output()}`,
    );
    // Answers still being written for the last rows are received before they are counted.
    await waitFor('the receiver to finish answering', () => inFlight().length === 0, 5_000);

    const rows = await listDeliveries(second.url);
    assert.equal(rows.length, expected.length, 'one outbox row per purchase');
    for (const r of rows) assert.equal(r.status, 'delivered', `row ${r.id}: ${r.status} (${r.lastError})`);
    for (const m of receiver.received) assert.equal(m.verified, true, `copy of ${m.id} verifies with standardwebhooks`);

    // At least once: every purchase arrived; de-duplicated by webhook-id, exactly once each.
    const copies = new Map<string, Received[]>();
    for (const m of receiver.received) copies.set(m.id, [...(copies.get(m.id) ?? []), m]);
    assert.deepEqual([...new Set(receiver.unique().map(orderOf))].sort(), [...expected].sort(), 'every purchase arrived');
    assert.equal(copies.size, expected.length, 'one webhook-id per purchase');
    for (const [id, list] of copies) {
      assert.equal(new Set(list.map(orderOf)).size, 1, `the copies of ${id} are one purchase`);
      assert.equal((list[0]!.body.data as { messageId?: unknown }).messageId, id, 'the body names the same id as webhook-id');
      for (const c of list.slice(1)) assert.deepEqual(withoutSendTime(c), withoutSendTime(list[0]!), `the copies of ${id} carry the same body apart from the send time`);
    }
    // What the killed process never heard back about was sent again by the new one.
    for (const id of unanswered) assert.ok((copies.get(id)?.length ?? 0) >= 2, `${id}, in flight at the kill, arrived again (${copies.get(id)?.length ?? 0} copies)`);
    const byId = new Map(rows.map((r) => [r.id, r]));
    for (const id of unanswered) assert.ok((byId.get(id)?.attempts ?? 0) >= 2, `${id} was attempted again`);

    // Per person, one message at a time, and the first copies arrive in the order the purchases were collected.
    assert.equal(samePerson.max(), 1, 'never two messages of one person in flight at once');
    for (const p of people) {
      const totals = receiver.unique().filter((m) => orderOf(m).startsWith(`${p}-`)).map((m) => dataOf(m).properties.total);
      assert.deepEqual(totals, Array.from({ length: perPerson }, (_, i) => i), `${p}'s messages in collection order`);
    }

    second.proc.kill('SIGTERM');
    const stopped = await second.exited;
    assert.equal(stopped.code, 0, `the second process stopped cleanly:\n${second.output()}`);
  });
});

describe('destinations: the delivery lease from the environment', () => {
  it('FIDUCIA_DELIVERY_LEASE_MS sets the lease; a value that is no whole number of milliseconds stops the start', async () => {
    assert.equal(optionsFromEnv({}).deliveries, undefined);
    assert.deepEqual(optionsFromEnv({ FIDUCIA_DELIVERY_LEASE_MS: '1500' }).deliveries, { enabled: true, leaseMs: 1500 });
    assert.deepEqual(optionsFromEnv({ FIDUCIA_DELIVERIES: '0' }).deliveries, { enabled: false, leaseMs: undefined });
    for (const bad of ['soon', '0', '-5', '1.5']) {
      const store = freshStore('sqlite', { deliveries: optionsFromEnv({ FIDUCIA_DELIVERY_LEASE_MS: bad }).deliveries });
      try {
        await assert.rejects(createFiducia(store.options), /FIDUCIA_DELIVERY_LEASE_MS/, `${bad} is refused`);
      } finally {
        await store.cleanup();
      }
    }
  });
});

/** `fiducia_deliveries_total` of one process for the hook destination and this outcome. */
async function delivered(f: Fiducia, outcome: string): Promise<number> {
  const r = await f.app.inject({ method: 'GET', url: '/metrics' });
  const line = new RegExp(`^fiducia_deliveries_total\\{destination="hook",outcome="${outcome}"\\} (\\d+)$`, 'm').exec(r.body);
  return line ? Number(line[1]) : 0;
}

for (const { dialect, skip } of await dialects()) {
  // SQLite is one process's database; sharing the outbox between processes is PostgreSQL's case.
  if (dialect !== 'postgres') continue;
  await describe(`destinations: two processes on one schema [${dialect}]`, { skip }, () => {
    const receiver = new Receiver();
    let cfg: { dir: string; path: string };
    let store: StoreHandle;
    const running: Fiducia[] = [];
    before(async () => {
      await receiver.start();
      cfg = configWith(receiver.url);
      store = freshStore(dialect, {
        configPath: cfg.path,
        destinationSecrets: { SECRET_HOOK: receiver.secret },
        // Started by the test once a backlog is queued, both in the same tick.
        deliveries: { enabled: false, pollMs: 20, batch: 8, concurrency: 4 },
        rightsSweepMs: 0,
        auditCheckpointSeconds: 0,
        segmentRefreshMs: 0,
        retentionSweepMinutes: 0,
      });
    });
    after(async () => {
      await Promise.all(running.map((f) => f.close()));
      await receiver.stop();
      await store?.cleanup();
      if (cfg) rmSync(cfg.dir, { recursive: true, force: true });
    });

    it('never sends one row from both at once, sends each row once, and both send', async () => {
      // Answers go out together, on the next 30 ms tick at least 20 ms away: both processes end their rounds and claim
      // again at about the same moment, the race a claim without row locks loses.
      const samePerson = perPersonInFlight(receiver, () => {
        const wait = 30 - (Date.now() % 30);
        return wait < 20 ? wait + 30 : wait;
      });
      // One after the other: the second start finds the schema migrated and the secrets bootstrapped.
      running.push(await createFiducia(store.options));
      running.push(await createFiducia(store.options));
      const [a, b] = running as [Fiducia, Fiducia];
      const people = Array.from({ length: 40 }, (_, i) => `p${i}`);
      const inject = async (f: Fiducia, url: string, payload: Record<string, unknown>) => {
        const r = await f.app.inject({ method: 'POST', url, headers: { authorization: basicAuth() }, payload });
        assert.equal(r.statusCode, 200, r.body);
      };
      /** Purchases `numbers` of every person, each person's together in one batch, half of the people through each process. */
      const purchases = (numbers: number[]) =>
        Promise.all(
          [a, b].map((f, half) => {
            const mine = people.filter((_, n) => n % 2 === half);
            const batch = mine.flatMap((p) => numbers.map((i) => ({ type: 'track', anonymousId: p, event: 'Order Completed', messageId: `${p}-${i}`, properties: { order_id: `${p}-${i}`, total: i } })));
            return inject(f, '/v1/batch', { batch });
          }),
        );
      const rowsOf = () => a.dbs.data.selectFrom('deliveries').select(['id', 'status', 'attempts']).where('destination_id', '=', 'hook').execute();
      await Promise.all(people.map((p, n) => inject(n % 2 ? a : b, '/v1/consent', { anonymousId: p, purposes: { marketing: true }, noticeVersion: a.cfg.config.notice.current })));
      // Three waves: a backlog of two purchases each, then both workers started in the same tick, both wanting the
      // oldest heads; in the last, one more purchase each is taken in while they send.
      let queued = 0;
      for (let wave = 0; wave < 3; wave++) {
        await purchases([2 * wave, 2 * wave + 1]);
        a.deliveries.start();
        b.deliveries.start();
        if (wave === 2) await purchases([6]);
        queued = people.length * (wave === 2 ? 7 : 2 * wave + 2);
        await waitFor(`wave ${wave} delivered`, async () => (await rowsOf()).filter((r) => r.status === 'delivered').length === queued, 20_000, () => `(received ${receiver.received.length} of ${queued})`);
        await Promise.all([a.deliveries.close(), b.deliveries.close()]);
      }
      await waitFor('the receiver to finish answering', () => [...receiver.inFlight.values()].every((n) => n === 0), 5_000);

      const extra = receiver.received.length - receiver.unique().length;
      assert.equal(receiver.maxConcurrentSameId, 1, `no row was sent by both processes at once (${extra} copies too many)`);
      const rows = await rowsOf();
      assert.equal(rows.length, queued, 'one outbox row per purchase');
      for (const r of rows) assert.equal(Number(r.attempts), 1, `row ${r.id} was claimed once (attempts ${r.attempts})`);
      assert.equal(receiver.received.length, queued, `each row arrived once (${receiver.received.length} copies of ${queued} rows)`);
      assert.equal(receiver.unique().length, queued, 'one webhook-id per row');
      const [byA, byB] = [await delivered(a, 'delivered'), await delivered(b, 'delivered')];
      assert.equal(byA + byB, queued, `the processes delivered ${byA} + ${byB} rows, not ${queued}`);
      assert.ok(byA > 0 && byB > 0, `both processes delivered (${byA} and ${byB})`);
      // One head per person at a time, whichever process sends it: each person's purchases arrive in order.
      assert.equal(samePerson.max(), 1, 'never two messages of one person in flight at once');
      for (const p of people) {
        const totals = receiver.unique().filter((m) => orderOf(m).startsWith(`${p}-`)).map((m) => dataOf(m).properties.total);
        assert.deepEqual(totals, [0, 1, 2, 3, 4, 5, 6], `${p}'s purchases in collection order`);
      }
    });
  });
}
