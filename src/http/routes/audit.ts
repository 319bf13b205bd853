// The audit log over HTTP (dpo/admin): verification, signed checkpoints, inclusion and consistency proofs, queries.
import { Type, type Static } from '@sinclair/typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { AuditEntry } from '../../domain/audit-entry.ts';
import { parseIdentityRef } from '../../domain/identity.ts';
import type { SignedCheckpoint } from '../../crypto/signed-note.ts';
import { authenticate, requireRole, type Caller } from '../auth.ts';
import type { HttpContext } from '../context.ts';
import { FiduciaError } from '../errors.ts';

const Count = Type.String({ pattern: '^(0|[1-9][0-9]{0,14})$' });
const Time = Type.String({ minLength: 1, maxLength: 40, description: 'ISO 8601 date or date-time, or epoch milliseconds' });
const Query = Type.Object(
  {
    subject: Type.Optional(Type.String({ minLength: 1, maxLength: 600, description: 'subject id, or an identity (userId:…, email:…)' })),
    actor: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
    action: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
    purpose: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
    from: Type.Optional(Time),
    to: Type.Optional(Time),
    /** 1–1000 (default 100). */
    limit: Type.Optional(Type.String({ pattern: '^(1000|[1-9][0-9]{0,2})$' })),
    /** The `next` of the previous page. */
    before: Type.Optional(Count),
  },
  { additionalProperties: false },
);
const VerifyQuery = Type.Object({}, { additionalProperties: false });
const CheckpointQuery = Type.Object({ format: Type.Optional(Type.Union([Type.Literal('json'), Type.Literal('note')])) }, { additionalProperties: false });
const InclusionQuery = Type.Object({ index: Count, size: Type.Optional(Count) }, { additionalProperties: false });
const ConsistencyQuery = Type.Object({ from: Count, to: Type.Optional(Count) }, { additionalProperties: false });

const Entry = Type.Object({
  index: Type.Integer(),
  at: Type.String(),
  actor: Type.String(),
  action: Type.String(),
  purpose: Type.Union([Type.String(), Type.Null()]),
  subjectId: Type.Union([Type.String(), Type.Null()]),
  fields: Type.Array(Type.String()),
  counts: Type.Record(Type.String(), Type.Number()),
  outcome: Type.String(),
  details: Type.Record(Type.String(), Type.Union([Type.String(), Type.Number(), Type.Boolean(), Type.Null()])),
});
const Checkpoint = Type.Object({
  origin: Type.String(),
  treeSize: Type.Integer(),
  rootHash: Type.String({ description: 'base64' }),
  timestamp: Type.String(),
  keyId: Type.String(),
  note: Type.String({ description: 'C2SP signed note; keep it elsewhere and check the log against it with `fiducia audit verify --checkpoint FILE`' }),
});
const Problem = Type.Object({
  code: Type.String(),
  message: Type.String(),
  index: Type.Optional(Type.Integer()),
  range: Type.Optional(Type.Array(Type.Integer())),
});
const VerifyReply = Type.Object({
  ok: Type.Boolean(),
  entries: Type.Integer(),
  head: Type.Object({ size: Type.Integer(), rootHash: Type.String() }),
  computedRoot: Type.String(),
  firstBadEntry: Type.Optional(Type.Integer()),
  problems: Type.Array(Problem),
  checkpoints: Type.Array(
    Type.Object({ treeSize: Type.Integer(), rootHash: Type.String(), timestamp: Type.Number(), source: Type.String(), ok: Type.Boolean() }),
  ),
  nodesChecked: Type.Integer(),
});
const EntryPage = Type.Object({ entries: Type.Array(Entry), next: Type.Union([Type.Integer(), Type.Null()]) });
const KeyReply = Type.Object({ origin: Type.String(), keyId: Type.String(), algorithm: Type.Literal('Ed25519'), publicKey: Type.String() });
const InclusionReply = Type.Object({ index: Type.Integer(), treeSize: Type.Integer(), entry: Entry, leafHash: Type.String(), proof: Type.Array(Type.String()), rootHash: Type.String(), checkpoint: Checkpoint });
const ConsistencyReply = Type.Object({ from: Type.Integer(), to: Type.Integer(), proof: Type.Array(Type.String()), fromRoot: Type.String(), toRoot: Type.String(), fromCheckpoint: Checkpoint, toCheckpoint: Checkpoint });
const ErrorReply = Type.Object({ error: Type.Object({ code: Type.String(), message: Type.String(), details: Type.Optional(Type.Unknown()) }) });
const errors = { 400: ErrorReply, 401: ErrorReply, 403: ErrorReply, 404: ErrorReply };
const tags = ['audit'];
const security = [{ token: [] }];

const b64 = (b: Buffer): string => b.toString('base64');
const entryJson = (e: AuditEntry) => ({ ...e, at: new Date(e.at).toISOString() });
const checkpointJson = (c: SignedCheckpoint) => ({
  origin: c.origin,
  treeSize: c.treeSize,
  rootHash: b64(c.rootHash),
  timestamp: new Date(c.timestamp).toISOString(),
  keyId: c.keyId,
  note: c.note,
});

function parseTime(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const ms = /^[0-9]{1,15}$/.test(v) ? Number(v) : Date.parse(v);
  if (!Number.isFinite(ms)) throw new FiduciaError('FIDUCIA_VALIDATION', `${name} must be an ISO 8601 date or epoch milliseconds`);
  return ms;
}

export async function auditRoutes(app: FastifyInstance, ctx: HttpContext): Promise<void> {
  // Authentication and the role check come before validation: no token is a 401, an analyst a 403, whatever the query.
  const callers = new WeakMap<FastifyRequest, Caller>();
  app.addHook('onRequest', async (req) => {
    const caller = await authenticate(req, ctx);
    await requireRole(req, ctx, caller, ['dpo', 'admin']);
    callers.set(req, caller);
  });
  const actor = (req: FastifyRequest): string => callers.get(req)!.tokenId;

  app.get('/api/v1/audit', { schema: { operationId: 'listAuditEntries', summary: 'List audit log entries, filtered', tags, security, querystring: Query, response: { 200: EntryPage, ...errors } } }, async (req) =>
    queryEntries(ctx, req.query as Static<typeof Query>, actor(req)),
  );

  app.get('/api/v1/audit/verify', { schema: { operationId: 'verifyAuditLog', summary: 'Verify the hash chain and the signed checkpoint', tags, security, querystring: VerifyQuery, response: { 200: VerifyReply, ...errors } } }, async (req) => {
    const report = await ctx.audit.verify();
    await ctx.audit.record([
      {
        actor: actor(req),
        action: 'audit.verify',
        outcome: report.ok ? 'ok' : 'failed',
        counts: { entries: report.entries, problems: report.problems.length },
        details: report.firstBadEntry === undefined ? {} : { firstBadEntry: report.firstBadEntry },
      },
    ]);
    return report;
  });

  app.get('/api/v1/audit/checkpoint', { schema: { operationId: 'getAuditCheckpoint', summary: 'The latest signed checkpoint of the audit log', tags, security, querystring: CheckpointQuery, response: { 200: Checkpoint, ...errors } } }, async (req, reply) => {
    const { format } = req.query as Static<typeof CheckpointQuery>;
    const cp = await ctx.audit.checkpoint();
    if (format === 'note') return reply.type('text/plain; charset=utf-8').serializer((x: unknown) => String(x)).send(cp.note);
    return checkpointJson(cp);
  });

  app.get('/api/v1/audit/key', { schema: { operationId: 'getAuditKey', summary: 'The public key that signs audit checkpoints', tags, security, response: { 200: KeyReply, ...errors } } }, async () => ({
    origin: ctx.audit.signer.origin,
    keyId: ctx.audit.signer.keyId,
    algorithm: 'Ed25519' as const,
    publicKey: b64(ctx.audit.signer.publicKey),
  }));

  app.get('/api/v1/audit/proof/inclusion', { schema: { operationId: 'getAuditInclusionProof', summary: 'Merkle proof that an entry is in the log', tags, security, querystring: InclusionQuery, response: { 200: InclusionReply, ...errors } } }, async (req) => {
    const q = req.query as Static<typeof InclusionQuery>;
    const p = await ctx.audit.inclusionProof(Number(q.index), q.size === undefined ? undefined : Number(q.size));
    return { index: p.index, treeSize: p.treeSize, entry: entryJson(p.entry), leafHash: b64(p.leafHash), proof: p.proof.map(b64), rootHash: b64(p.rootHash), checkpoint: checkpointJson(p.checkpoint) };
  });

  app.get('/api/v1/audit/proof/consistency', { schema: { operationId: 'getAuditConsistencyProof', summary: 'Merkle proof that one checkpoint extends another', tags, security, querystring: ConsistencyQuery, response: { 200: ConsistencyReply, ...errors } } }, async (req) => {
    const q = req.query as Static<typeof ConsistencyQuery>;
    const p = await ctx.audit.consistencyProof(Number(q.from), q.to === undefined ? undefined : Number(q.to));
    return {
      from: p.from,
      to: p.to,
      proof: p.proof.map(b64),
      fromRoot: b64(p.fromRoot),
      toRoot: b64(p.toRoot),
      fromCheckpoint: checkpointJson(p.fromCheckpoint),
      toCheckpoint: checkpointJson(p.toCheckpoint),
    };
  });
}

/** A page of entries matching the query (a subject given by identity is looked up first), the query itself on record. */
async function queryEntries(ctx: HttpContext, q: Static<typeof Query>, actor: string): Promise<{ entries: ReturnType<typeof entryJson>[]; next: number | null }> {
  let subjectId: string | null | undefined = q.subject;
  if (subjectId !== undefined && subjectId.includes(':')) {
    const ref = parseIdentityRef(subjectId);
    if (!ref) throw new FiduciaError('FIDUCIA_VALIDATION', 'subject must be a subject id or an identity (userId:…, anonymousId:…, email:…, phone:…)');
    subjectId = await ctx.audit.subjectFor(ref); // null: nobody with this identity, so no entries either
  }
  const page = subjectId === null ? { entries: [], next: null } : await ctx.audit.query({
    subjectId,
    actor: q.actor,
    action: q.action,
    purpose: q.purpose,
    from: parseTime('from', q.from),
    to: parseTime('to', q.to),
    before: q.before === undefined ? undefined : Number(q.before),
    limit: q.limit === undefined ? 100 : Number(q.limit),
  });
  // Who looked at whose audit trail is itself on record.
  const filters = Object.keys(q).filter((k) => k !== 'limit' && k !== 'before').sort().join(',');
  await ctx.audit.record([
    { actor, action: 'audit.query', subjectId: subjectId ?? null, counts: { entries: page.entries.length }, outcome: 'ok', details: { filters } },
  ]);
  return { entries: page.entries.map(entryJson), next: page.next };
}
