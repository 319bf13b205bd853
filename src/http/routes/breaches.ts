// The breach register for staff (dpo/admin): record, list, read and change breaches, the 72-hour clock, the notification to the authority and the notice to the people concerned.
import { Type, type Static } from '@sinclair/typebox';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { BREACH_NATURES, BREACH_STATUSES, ENCRYPTION_STATES, MAX_SUBJECTS_PER_CALL, NOT_REQUIRED_REASONS, type LocalizedText } from '../../domain/breach.ts';
import { documentHtml, documentText, type BreachDocument, type Lang } from '../../domain/breach-documents.ts';
import type { BreachInput } from '../../services/breaches/breaches.ts';
import { requireRoleOnRequest } from '../auth.ts';
import type { HttpContext } from '../context.ts';
import { FiduciaError } from '../errors.ts';
import { documentCsp } from '../security-headers.ts';

const literals = <T extends string>(values: readonly T[]) => Type.Union(values.map((v) => Type.Literal(v)));
const UUID = '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$';
const Id = Type.Object({ id: Type.String({ pattern: UUID }) });
const LangSchema = literals(['it', 'en'] as const);
const Text = Type.String({ minLength: 1, maxLength: 4000 });
const Localized = Type.Object({ it: Type.Optional(Text), en: Type.Optional(Text) }, { additionalProperties: false, minProperties: 1 });
const NullableLocalized = Type.Union([Localized, Type.Null()]);
/** Up to ten billion: more than any register will count, within a safe integer. */
const Count = Type.Union([Type.Integer({ minimum: 0, maximum: 10_000_000_000 }), Type.Null()]);
const Time = Type.String({ format: 'date-time', maxLength: 40 });
const Contact = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 200 }),
    email: Type.String({ format: 'email', minLength: 3, maxLength: 254 }),
    phone: Type.Optional(Type.String({ pattern: '^[+0-9 ()./-]{3,40}$' })),
  },
  { additionalProperties: false },
);

const facts = {
  nature: Type.Array(literals(BREACH_NATURES), { minItems: 1, maxItems: 3, uniqueItems: true }),
  description: Localized,
  /** Keys of the privacy configuration's data categories. */
  categories: Type.Array(Type.String({ minLength: 1, maxLength: 120 }), { maxItems: 100, uniqueItems: true }),
  approxSubjects: Count,
  approxRecords: Count,
  consequences: NullableLocalized,
  measuresTaken: NullableLocalized,
  measuresProposed: NullableLocalized,
  adviceToSubjects: NullableLocalized,
  encryption: literals(ENCRYPTION_STATES),
  contact: Contact,
  /** When the controller became aware of the breach: the 72 hours run from here. */
  awareAt: Time,
  occurredAt: Type.Union([Time, Type.Null()]),
};
const OptionalFacts = Type.Partial(Type.Object(facts)).properties;

const CreateBody = Type.Object({ ...OptionalFacts, nature: facts.nature, description: facts.description, awareAt: facts.awareAt }, { additionalProperties: false });
type CreateBody = Static<typeof CreateBody>;
const UpdateBody = Type.Object({ ...OptionalFacts, note: Type.Optional(Type.String({ minLength: 1, maxLength: 2000 })) }, { additionalProperties: false, minProperties: 1 });
type UpdateBody = Static<typeof UpdateBody>;
const AuthorityBody = Type.Object(
  {
    at: Type.Optional(Time),
    /** The authority's own reference (the protocol number its portal gives). */
    reference: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
    /** Required when the first notification comes more than 72 hours after awareness (Art. 33(1)). */
    delayReason: Type.Optional(Localized),
    note: Type.Optional(Type.String({ minLength: 1, maxLength: 2000 })),
  },
  { additionalProperties: false },
);
type AuthorityBody = Static<typeof AuthorityBody>;
const StatusBody = Type.Object(
  {
    status: literals(['subjects_notified', 'not_required', 'closed'] as const),
    reason: Type.Optional(literals(NOT_REQUIRED_REASONS)),
    note: Type.Optional(Type.String({ minLength: 1, maxLength: 2000 })),
  },
  { additionalProperties: false },
);
type StatusBody = Static<typeof StatusBody>;
const SubjectsBody = Type.Object({ subjectIds: Type.Array(Type.String({ pattern: UUID }), { minItems: 1, maxItems: MAX_SUBJECTS_PER_CALL }) }, { additionalProperties: false });
const SendBody = Type.Object({ lang: Type.Optional(LangSchema) }, { additionalProperties: false });
const ListQuery = Type.Object(
  {
    status: Type.Optional(literals(BREACH_STATUSES)),
    limit: Type.Optional(Type.String({ pattern: '^(200|1[0-9]{2}|[1-9][0-9]?)$' })),
    offset: Type.Optional(Type.String({ pattern: '^[0-9]{1,6}$' })),
  },
  { additionalProperties: false },
);
type ListQuery = Static<typeof ListQuery>;
const DocQuery = Type.Object({ lang: Type.Optional(LangSchema), format: Type.Optional(literals(['json', 'text', 'html'] as const)) }, { additionalProperties: false });
type DocQuery = Static<typeof DocQuery>;

const ErrorReply = Type.Object({ error: Type.Object({ code: Type.String(), message: Type.String(), details: Type.Optional(Type.Unknown()) }) });
const errors = { 400: ErrorReply, 401: ErrorReply, 403: ErrorReply, 404: ErrorReply, 409: ErrorReply };
const tags = ['breaches'];
const security = [{ token: [] }];
const raw = (x: unknown): string => String(x);

/** RFC 3339 as the schema checked it; a value it lets through that is no instant (a leap second) is refused here. */
function timeOf(s: string): number {
  const t = Date.parse(s);
  if (!Number.isFinite(t)) throw new FiduciaError('FIDUCIA_VALIDATION', 'a time is not a valid instant');
  return t;
}

/** The body's facts as the service takes them (times in epoch ms); absent fields stay absent. */
function factsOf(b: UpdateBody | CreateBody): Partial<BreachInput> {
  const out: Partial<BreachInput> = {};
  const copy = <K extends keyof BreachInput>(k: K, v: BreachInput[K] | undefined) => {
    if (v !== undefined) out[k] = v;
  };
  copy('nature', b.nature);
  copy('description', b.description as LocalizedText | undefined);
  copy('categories', b.categories);
  copy('approxSubjects', b.approxSubjects);
  copy('approxRecords', b.approxRecords);
  copy('consequences', b.consequences as LocalizedText | null | undefined);
  copy('measuresTaken', b.measuresTaken as LocalizedText | null | undefined);
  copy('measuresProposed', b.measuresProposed as LocalizedText | null | undefined);
  copy('adviceToSubjects', b.adviceToSubjects as LocalizedText | null | undefined);
  copy('encryption', b.encryption);
  copy('contact', b.contact);
  copy('awareAt', b.awareAt === undefined ? undefined : timeOf(b.awareAt));
  copy('occurredAt', b.occurredAt === undefined ? undefined : b.occurredAt === null ? null : timeOf(b.occurredAt));
  return out;
}

function sendDocument(reply: FastifyReply, doc: BreachDocument, format: DocQuery['format']): FastifyReply | BreachDocument & { text: string } {
  void reply.header('cache-control', 'no-store');
  if (format === 'html') {
    const html = documentHtml(doc);
    return reply.type('text/html; charset=utf-8').header('content-security-policy', documentCsp(html)).serializer(raw).send(html);
  }
  if (format === 'text') return reply.type('text/plain; charset=utf-8').serializer(raw).send(documentText(doc));
  return { ...doc, text: documentText(doc) };
}

export async function breachRoutes(app: FastifyInstance, ctx: HttpContext): Promise<void> {
  const caller = requireRoleOnRequest(app, ctx, ['admin', 'dpo']);
  const actor = (req: FastifyRequest) => caller(req).tokenId;
  const defaultLang = (): Lang => ctx.cfg.config.languages[0] ?? 'en';
  registerRegister(app, ctx, actor);
  registerDocuments(app, ctx, actor, defaultLang);
}

/** Record, list, read, change; the authority's notification and status changes. */
function registerRegister(app: FastifyInstance, ctx: HttpContext, actor: (req: FastifyRequest) => string): void {
  app.post('/api/v1/breaches', { bodyLimit: 128 * 1024, schema: { operationId: 'recordBreach', tags, security, summary: 'Record a personal data breach', body: CreateBody, response: { 201: Type.Object({ id: Type.String() }, { additionalProperties: true }), ...errors } } }, async (req, reply) => {
    const b = req.body as CreateBody;
    const f = factsOf(b);
    const input: BreachInput = {
      nature: f.nature!,
      description: f.description!,
      categories: f.categories ?? [],
      approxSubjects: f.approxSubjects ?? null,
      approxRecords: f.approxRecords ?? null,
      consequences: f.consequences ?? null,
      measuresTaken: f.measuresTaken ?? null,
      measuresProposed: f.measuresProposed ?? null,
      adviceToSubjects: f.adviceToSubjects ?? null,
      encryption: f.encryption ?? 'unknown',
      contact: f.contact,
      awareAt: f.awareAt!,
      occurredAt: f.occurredAt ?? null,
    };
    return reply.status(201).send(await ctx.breaches.create(input, actor(req)));
  });

  app.get('/api/v1/breaches', { schema: { operationId: 'listBreaches', tags, security, summary: 'The breach register, open breaches by deadline first', querystring: ListQuery } }, async (req) => {
    const q = req.query as ListQuery;
    const breaches = await ctx.breaches.list({ status: q.status, limit: Number(q.limit ?? 50), offset: Number(q.offset ?? 0) });
    return { now: new Date(ctx.breaches.now()).toISOString(), breaches };
  });

  app.get('/api/v1/breaches/:id', { schema: { operationId: 'getBreach', tags, security, summary: 'One breach with its clock and history', params: Id } }, async (req) => {
    return ctx.breaches.get((req.params as Static<typeof Id>).id);
  });

  app.patch('/api/v1/breaches/:id', { bodyLimit: 128 * 1024, schema: { operationId: 'updateBreach', tags, security, summary: 'Change the facts of a breach', params: Id, body: UpdateBody, response: errors } }, async (req) => {
    const b = req.body as UpdateBody;
    return ctx.breaches.update((req.params as Static<typeof Id>).id, factsOf(b), actor(req), b.note);
  });

  app.post('/api/v1/breaches/:id/authority-notification', { schema: { operationId: 'recordAuthorityNotification', tags, security, summary: 'Record the notification to the supervisory authority', params: Id, body: AuthorityBody, response: errors } }, async (req) => {
    const b = req.body as AuthorityBody;
    const at = b.at === undefined ? undefined : timeOf(b.at);
    return ctx.breaches.notifyAuthority((req.params as Static<typeof Id>).id, { at, reference: b.reference, delayReason: b.delayReason, note: b.note }, actor(req));
  });

  app.post('/api/v1/breaches/:id/status', { schema: { operationId: 'setBreachStatus', tags, security, summary: 'Move a breach on: not required, subjects notified, closed', params: Id, body: StatusBody, response: errors } }, async (req) => {
    const b = req.body as StatusBody;
    return ctx.breaches.setStatus((req.params as Static<typeof Id>).id, b.status, b.reason, b.note, actor(req));
  });
}

/** The people concerned, the two documents, and sending the notice. */
function registerDocuments(app: FastifyInstance, ctx: HttpContext, actor: (req: FastifyRequest) => string, defaultLang: () => Lang): void {
  app.post('/api/v1/breaches/:id/subjects', { bodyLimit: 128 * 1024, schema: { operationId: 'addBreachSubjects', tags, security, summary: 'Name the people a breach concerns (subject ids)', params: Id, body: SubjectsBody, response: errors } }, async (req) => {
    const b = req.body as Static<typeof SubjectsBody>;
    return ctx.breachNotices.addSubjects((req.params as Static<typeof Id>).id, b.subjectIds, actor(req));
  });

  app.get('/api/v1/breaches/:id/notification', { schema: { operationId: 'getAuthorityNotification', tags, security, summary: 'The notification to the supervisory authority (Art. 33)', params: Id, querystring: DocQuery } }, async (req, reply) => {
    const q = req.query as DocQuery;
    return sendDocument(reply, await ctx.breaches.document((req.params as Static<typeof Id>).id, 'authority', q.lang ?? defaultLang()), q.format);
  });

  app.get('/api/v1/breaches/:id/subject-notice', { schema: { operationId: 'getSubjectNotice', tags, security, summary: 'The notice to the people concerned (Art. 34)', params: Id, querystring: DocQuery } }, async (req, reply) => {
    const q = req.query as DocQuery;
    return sendDocument(reply, await ctx.breaches.document((req.params as Static<typeof Id>).id, 'subjects', q.lang ?? defaultLang()), q.format);
  });

  app.post('/api/v1/breaches/:id/subject-notice/send', { schema: { operationId: 'sendSubjectNotice', tags, security, summary: 'Send the notice to each person named, at their asserted email address', params: Id, body: SendBody, response: errors } }, async (req) => {
    const b = (req.body ?? {}) as Static<typeof SendBody>;
    const { report, breach } = await ctx.breachNotices.send((req.params as Static<typeof Id>).id, b.lang ?? defaultLang(), actor(req));
    return { ...report, breach };
  });
}
