import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  MAX_JSON_DEPTH,
  MESSAGE_TYPES,
  correctTimestamp,
  jsonDepthExceeds,
  normalizeMessage,
  type BatchDefaults,
  type MessageError,
  type MessageType,
  type NormalizedMessage,
} from './segment-message.ts';

const RECEIVED = Date.parse('2026-11-20T12:00:00.000Z');
let counter = 0;
const newId = () => `generated-${++counter}`;

function norm(raw: unknown, type: MessageType | null = null, defaults: BatchDefaults = {}, path = type ? 'body' : 'batch[0]') {
  return normalizeMessage(raw, type, path, RECEIVED, defaults, newId);
}

function ok(raw: unknown, type: MessageType | null = null, defaults: BatchDefaults = {}): NormalizedMessage {
  const r = norm(raw, type, defaults);
  assert.ok(r.ok, `expected ok, got ${JSON.stringify(r)}`);
  return r.message;
}

function err(raw: unknown, type: MessageType | null = null, defaults: BatchDefaults = {}): MessageError {
  const r = norm(raw, type, defaults);
  assert.ok(!r.ok, `expected an error, got ${JSON.stringify(r)}`);
  return r.error;
}

describe('normalizeMessage: types', () => {
  it('takes the type from the endpoint, ignoring the body', () => {
    const m = ok({ type: 'identify', userId: 'u1', event: 'Order Completed' }, 'track');
    assert.equal(m.type, 'track');
    assert.equal(m.event, 'Order Completed');
  });

  it('takes the type from a batch item', () => {
    for (const type of MESSAGE_TYPES) {
      const m = ok({ type, userId: 'u1', event: 'E', previousId: 'p1', groupId: 'g1' });
      assert.equal(m.type, type);
    }
  });

  it('refuses a batch item with a missing or unknown type', () => {
    for (const type of [undefined, 'purchase', 7, null, 'Track']) {
      const e = err({ type, userId: 'u1' });
      assert.equal(e.code, 'FIDUCIA_INVALID_MESSAGE');
      assert.equal(e.path, 'batch[0].type');
    }
  });

  it('refuses a message that is not an object', () => {
    for (const raw of [null, 'x', 3, [], [{ userId: 'u1' }]]) assert.equal(err(raw, 'track').code, 'FIDUCIA_INVALID_MESSAGE');
  });
});

describe('normalizeMessage: identity', () => {
  it('needs a userId or an anonymousId', () => {
    for (const raw of [{}, { userId: null }, { userId: '', anonymousId: '' }, { anonymousId: null, traits: { email: 'a@b.co' } }]) {
      const e = err({ ...raw, event: 'E' }, 'track');
      assert.equal(e.code, 'FIDUCIA_MISSING_IDENTITY');
      assert.equal(e.path, 'body');
    }
  });

  it('accepts either identity alone, numbers as strings, and trims', () => {
    assert.equal(ok({ anonymousId: 'a1' }, 'identify').anonymousId, 'a1');
    assert.equal(ok({ anonymousId: 'a1' }, 'identify').userId, null);
    assert.equal(ok({ userId: 42 }, 'identify').userId, '42');
    assert.equal(ok({ userId: '  u1 ' }, 'identify').userId, 'u1');
  });

  it('refuses identities of the wrong type', () => {
    for (const [field, value] of [['userId', {}], ['userId', ['u']], ['userId', true], ['anonymousId', {}], ['userId', Number.NaN]] as const) {
      const e = err({ userId: 'u1', anonymousId: 'a1', [field]: value }, 'identify');
      assert.equal(e.code, 'FIDUCIA_INVALID_MESSAGE');
      assert.equal(e.path, `body.${field}`);
    }
  });

  it('normalizes blocked placeholder values to null (they must never link anyone)', () => {
    const m = ok({ userId: 'null', anonymousId: 'a1' }, 'identify');
    assert.equal(m.userId, null);
    assert.equal(m.anonymousId, 'a1');
    const both = ok({ userId: 'undefined', anonymousId: '00000000-0000-0000-0000-000000000000' }, 'identify');
    assert.equal(both.userId, null);
    assert.equal(both.anonymousId, null);
    assert.equal(ok({ userId: 0, anonymousId: 'Anonymous' }, 'identify').anonymousId, null);
  });
});

describe('normalizeMessage: length bounds, before any pattern runs', () => {
  const bounded = (e: MessageError, path: string) => {
    assert.equal(e.code, 'FIDUCIA_VALIDATION', JSON.stringify(e));
    assert.equal(e.path, path);
  };
  // An address of exactly n characters.
  const email = (n: number) => `${'a'.repeat(n - 'example.com'.length - 1)}@example.com`;

  it('refuses a userId or anonymousId over 512 characters, naming the field; numbers stay allowed', () => {
    bounded(err({ userId: 'u'.repeat(513) }, 'track'), 'body.userId');
    bounded(err({ userId: 'u1', anonymousId: 'a'.repeat(513) }, 'page'), 'body.anonymousId');
    assert.equal(ok({ userId: 'u'.repeat(512) }, 'page').userId, 'u'.repeat(512));
    // eslint-disable-next-line no-loss-of-precision -- a number past 2^53, as JSON delivers one, on purpose
    assert.equal(ok({ userId: 12345678901234567890 }, 'page').userId, '12345678901234567000');
  });

  it('refuses an alias previousId and a groupId over 512 characters', () => {
    bounded(err({ userId: 'u1', previousId: 'p'.repeat(513) }, 'alias'), 'body.previousId');
    assert.equal(ok({ userId: 'u1', previousId: 'p'.repeat(512) }, 'alias').previousId, 'p'.repeat(512));
    bounded(err({ userId: 'u1', groupId: 'g'.repeat(513) }, 'group'), 'body.groupId');
    assert.equal(ok({ userId: 'u1', groupId: 'g'.repeat(512) }, 'group').groupId, 'g'.repeat(512));
  });

  it('refuses traits.email over 254 and traits.phone over 64 characters, wherever the traits came from', () => {
    assert.equal(email(254).length, 254);
    assert.equal(ok({ userId: 'u1', traits: { email: email(254) } }, 'identify').traits.email, email(254));
    bounded(err({ userId: 'u1', traits: { email: email(255) } }, 'identify'), 'body.traits.email');
    bounded(err({ userId: 'u1', traits: { email: 'x'.repeat(31 * 1024) } }, 'identify'), 'body.traits.email');
    bounded(err({ userId: 'u1', traits: { phone: '1'.repeat(65) } }, 'identify'), 'body.traits.phone');
    const phone = '+39 333 1234567'.padStart(64);
    assert.equal(ok({ userId: 'u1', traits: { phone } }, 'identify').traits.phone, phone);
    bounded(err({ userId: 'u1', context: { traits: { email: email(255) } } }, 'identify'), 'body.context.traits.email');
    bounded(err({ type: 'identify', userId: 'u1' }, null, { context: { traits: { email: email(255) } } }), 'context.traits.email');
    bounded(err({ type: 'identify', userId: 'u1', traits: { email: email(300) } }), 'batch[0].traits.email');
  });
});

describe('normalizeMessage: per-type rules', () => {
  it('track needs a non-empty event name of at most 200 characters', () => {
    for (const event of [undefined, null, '', '   ', 5]) {
      const e = err({ userId: 'u1', event }, 'track');
      assert.equal(e.code, 'FIDUCIA_INVALID_MESSAGE');
      assert.equal(e.path, 'body.event');
    }
    assert.equal(err({ userId: 'u1', event: 'x'.repeat(201) }, 'track').path, 'body.event');
    assert.equal(ok({ userId: 'u1', event: 'x'.repeat(200) }, 'track').event, 'x'.repeat(200));
  });

  it('page and screen take an optional string name as the event', () => {
    assert.equal(ok({ anonymousId: 'a', name: 'Home' }, 'page').event, 'Home');
    assert.equal(ok({ anonymousId: 'a' }, 'screen').event, null);
    assert.equal(ok({ anonymousId: 'a', name: '' }, 'page').event, null);
    assert.equal(err({ anonymousId: 'a', name: 7 }, 'page').path, 'body.name');
  });

  it('alias needs a previousId and a userId', () => {
    assert.equal(err({ userId: 'u1' }, 'alias').path, 'body.previousId');
    assert.equal(err({ userId: 'u1', previousId: {} }, 'alias').path, 'body.previousId');
    const noUser = err({ anonymousId: 'a1', previousId: 'old' }, 'alias');
    assert.equal(noUser.code, 'FIDUCIA_INVALID_MESSAGE');
    assert.equal(noUser.path, 'body.userId');
    const m = ok({ userId: 'u1', previousId: ' old-anon ' }, 'alias');
    assert.equal(m.previousId, 'old-anon');
    assert.equal(ok({ userId: 'u1', previousId: 'anonymous' }, 'alias').previousId, null);
  });

  it('group needs a groupId', () => {
    assert.equal(err({ userId: 'u1' }, 'group').path, 'body.groupId');
    assert.equal(err({ userId: 'u1', groupId: '' }, 'group').path, 'body.groupId');
    assert.equal(err({ userId: 'u1', groupId: { id: 1 } }, 'group').code, 'FIDUCIA_INVALID_MESSAGE');
    assert.equal(ok({ userId: 'u1', groupId: 7 }, 'group').groupId, '7');
  });
});

describe('normalizeMessage: field types', () => {
  it('refuses traits, properties, context and integrations that are not objects', () => {
    for (const key of ['traits', 'properties', 'context', 'integrations']) {
      for (const value of ['x', 3, ['a'], true]) {
        const e = err({ userId: 'u1', event: 'E', [key]: value }, 'track');
        assert.equal(e.code, 'FIDUCIA_INVALID_MESSAGE');
        assert.equal(e.path, `body.${key}`);
      }
    }
  });

  it('treats null objects as empty', () => {
    const m = ok({ userId: 'u1', event: 'E', traits: null, properties: null, context: null }, 'track');
    assert.deepEqual([m.traits, m.properties, m.context], [{}, {}, {}]);
  });

  it('refuses timestamps that are not ISO-8601 strings', () => {
    for (const field of ['timestamp', 'originalTimestamp', 'sentAt']) {
      for (const value of ['yesterday', 'not a date', 1_700_000_000_000, {}]) {
        const e = err({ userId: 'u1', event: 'E', [field]: value }, 'track');
        assert.equal(e.code, 'FIDUCIA_INVALID_MESSAGE');
        assert.equal(e.path, `body.${field}`);
      }
    }
    assert.equal(err({ type: 'track', userId: 'u1', event: 'E' }, null, { sentAt: 'soon' }).path, 'batch[0].sentAt');
  });

  it('generates a messageId when absent, keeps a given one, refuses a bad one', () => {
    const a = ok({ userId: 'u1', event: 'E' }, 'track');
    const b = ok({ userId: 'u1', event: 'E', messageId: null }, 'track');
    const c = ok({ userId: 'u1', event: 'E', messageId: '' }, 'track');
    assert.match(a.messageId, /^generated-\d+$/);
    assert.notEqual(a.messageId, b.messageId);
    assert.notEqual(b.messageId, c.messageId);
    assert.equal(ok({ userId: 'u1', event: 'E', messageId: 'm-1' }, 'track').messageId, 'm-1');
    assert.equal(err({ userId: 'u1', event: 'E', messageId: 12 }, 'track').path, 'body.messageId');
    assert.equal(err({ userId: 'u1', event: 'E', messageId: 'm'.repeat(201) }, 'track').path, 'body.messageId');
  });

  it('reports the batch index in the error path', () => {
    const r = normalizeMessage({ type: 'track', userId: 'u1' }, null, 'batch[7]', RECEIVED, {}, newId);
    assert.ok(!r.ok);
    assert.equal(r.error.path, 'batch[7].event');
  });
});

describe('normalizeMessage: batch-level context', () => {
  it('merges batch context under the item’s own (the item wins)', () => {
    const defaults = { context: { ip: '203.0.113.1', locale: 'it-IT' } };
    const m = ok({ type: 'track', userId: 'u1', event: 'E', context: { ip: '198.51.100.2', timezone: 'Europe/Rome' } }, null, defaults);
    assert.deepEqual(m.context, { ip: '198.51.100.2', locale: 'it-IT', timezone: 'Europe/Rome' });
    assert.deepEqual(ok({ type: 'track', userId: 'u1', event: 'E' }, null, defaults).context, defaults.context);
    // The defaults object is shared by every item of a batch: merging must not change it.
    assert.deepEqual(defaults.context, { ip: '203.0.113.1', locale: 'it-IT' });
  });

  it('identify falls back to context.traits when there are no top-level traits', () => {
    assert.deepEqual(ok({ userId: 'u1', context: { traits: { firstName: 'Ada' } } }, 'identify').traits, { firstName: 'Ada' });
    assert.deepEqual(ok({ userId: 'u1', traits: { a: 1 }, context: { traits: { b: 2 } } }, 'identify').traits, { a: 1 });
    assert.deepEqual(ok({ userId: 'u1', event: 'E', context: { traits: { b: 2 } } }, 'track').traits, {});
  });
});

describe('timestamps', () => {
  const t = (s: string) => Date.parse(s);

  it('correctTimestamp keeps an explicit timestamp', () => {
    assert.equal(correctTimestamp(1000, 5000, 9000, RECEIVED), 1000);
  });

  it('correctTimestamp shifts originalTimestamp by receivedAt − sentAt', () => {
    // The client clock is 10 minutes slow: sentAt 11:50, received 12:00; the event happened 5 s before sending.
    assert.equal(correctTimestamp(null, t('2026-11-20T11:49:55Z'), t('2026-11-20T11:50:00Z'), RECEIVED), t('2026-11-20T11:59:55Z'));
    assert.equal(correctTimestamp(null, 4000, null, RECEIVED), 4000);
    assert.equal(correctTimestamp(null, null, 9000, RECEIVED), RECEIVED);
  });

  it('normalizeMessage applies the correction, with the item’s sentAt or else the batch’s', () => {
    const explicit = ok({ userId: 'u1', event: 'E', timestamp: '2026-01-01T00:00:00Z', originalTimestamp: '2026-02-01T00:00:00Z' }, 'track');
    assert.equal(explicit.timestamp, t('2026-01-01T00:00:00Z'));
    const item = { type: 'track', userId: 'u1', event: 'E', originalTimestamp: '2026-11-20T11:49:55Z' };
    assert.equal(ok(item, null, { sentAt: '2026-11-20T11:50:00Z' }).timestamp, t('2026-11-20T11:59:55Z'));
    assert.equal(ok({ ...item, sentAt: '2026-11-20T11:55:00Z' }, null, { sentAt: '2026-11-20T11:50:00Z' }).timestamp, t('2026-11-20T11:54:55Z'));
    assert.equal(ok({ userId: 'u1', event: 'E' }, 'track').timestamp, RECEIVED);
  });
});

describe('jsonDepthExceeds', () => {
  const nest = (depth: number, array = false): unknown => {
    let v: unknown = 1;
    for (let i = 0; i < depth; i++) v = array ? [v] : { a: v };
    return v;
  };

  it('counts objects and arrays, not scalars', () => {
    assert.equal(jsonDepthExceeds(nest(MAX_JSON_DEPTH), MAX_JSON_DEPTH), false);
    assert.equal(jsonDepthExceeds(nest(MAX_JSON_DEPTH + 1), MAX_JSON_DEPTH), true);
    assert.equal(jsonDepthExceeds(nest(MAX_JSON_DEPTH + 1, true), MAX_JSON_DEPTH), true);
    assert.equal(jsonDepthExceeds({ a: [{ b: [1] }] }, 4), false);
    assert.equal(jsonDepthExceeds({ a: [{ b: [1] }] }, 3), true);
    assert.equal(jsonDepthExceeds('x', 0), false);
    assert.equal(jsonDepthExceeds(null, 0), false);
  });

  it('finds one deep branch among many shallow ones', () => {
    const wide: Record<string, unknown> = {};
    for (let i = 0; i < 1000; i++) wide[`k${i}`] = { v: i };
    wide.deep = nest(MAX_JSON_DEPTH);
    assert.equal(jsonDepthExceeds(wide, MAX_JSON_DEPTH), true);
  });

  it('handles very deep values without recursion', () => {
    assert.equal(jsonDepthExceeds(nest(100_000, true), MAX_JSON_DEPTH), true);
  });
});

describe('normalizeMessage: any JSON input', () => {
  it('never throws; it answers a message or a catalogued error', () => {
    const codes = new Set(['FIDUCIA_INVALID_MESSAGE', 'FIDUCIA_MISSING_IDENTITY', 'FIDUCIA_MESSAGE_TOO_LARGE', 'FIDUCIA_VALIDATION']);
    const item = fc.record(
      {
        type: fc.constantFrom(...MESSAGE_TYPES, 'other'),
        userId: fc.oneof(fc.string(), fc.integer(), fc.constant(null), fc.object()),
        anonymousId: fc.oneof(fc.string(), fc.constant(null)),
        event: fc.oneof(fc.string(), fc.integer()),
        previousId: fc.string(),
        groupId: fc.oneof(fc.string(), fc.integer()),
        timestamp: fc.oneof(fc.date({ noInvalidDate: true }).map((d) => d.toISOString()), fc.string()),
        traits: fc.oneof(fc.object(), fc.string()),
        context: fc.oneof(fc.object(), fc.constant(null)),
      },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(fc.oneof(item, fc.jsonValue()), (raw) => {
        const r = normalizeMessage(raw, null, 'batch[0]', RECEIVED, { context: { ip: '203.0.113.1' } }, newId);
        if (r.ok) {
          assert.ok(r.message.userId !== undefined && r.message.anonymousId !== undefined);
          assert.ok(Number.isFinite(r.message.timestamp));
        } else assert.ok(codes.has(r.error.code));
      }),
    );
  });
});
