import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MAX_DEBUGGER_NAME_LENGTH, MAX_DEBUGGER_NAMES, boundedName, debuggerEntry, type MessageCapture } from './debugger-entry.ts';
import type { NormalizedMessage } from './segment-message.ts';

const message = (over: Partial<NormalizedMessage> = {}): NormalizedMessage => ({
  type: 'track',
  messageId: 'm-1',
  userId: 'u-1',
  anonymousId: null,
  previousId: null,
  groupId: null,
  event: 'Order Completed',
  traits: {},
  properties: {},
  context: {},
  timestamp: 0,
  ...over,
});
const capture = (over: Partial<MessageCapture> = {}): MessageCapture => ({
  message: message(),
  sourceKind: 'server',
  receivedAt: 0,
  outcome: 'stored',
  reason: null,
  plan: null,
  userIdUnverified: false,
  ...over,
});

describe('debuggerEntry', () => {
  it('holds names and codes only: no id of a person, no value', () => {
    const e = debuggerEntry(
      capture({
        plan: {
          event: { category: 'user.behavior.purchase', purposes: ['service'], categories: [], payload: { properties: { total: 9 }, context: {}, traits: {}, fields: { 'properties.total': 'x' } } },
          traits: [],
          drops: [{ kind: 'property', reason: 'unknown_property', field: 'properties.note' }],
        },
      }),
    );
    assert.deepEqual(e, {
      type: 'track',
      event: 'Order Completed',
      messageId: 'm-1',
      outcome: 'stored',
      reason: null,
      identity: { userId: 'asserted', anonymousId: false },
      stored: ['properties.total'],
      dropped: [{ field: 'properties.note', reason: 'unknown_property' }],
      omitted: 0,
    });
    assert.ok(!JSON.stringify(e).includes('u-1'), 'no userId');
  });

  it('says how the userId was asserted: by a server source, verified from a browser, dropped unverified, absent', () => {
    assert.equal(debuggerEntry(capture({ sourceKind: 'browser' })).identity.userId, 'verified');
    const dropped = debuggerEntry(capture({ sourceKind: 'browser', message: message({ userId: null, anonymousId: 'a' }), userIdUnverified: true }));
    assert.deepEqual(dropped.identity, { userId: 'unverified', anonymousId: true });
    assert.deepEqual(dropped.dropped, [{ field: 'userId', reason: 'unverified_identity' }]);
    assert.equal(debuggerEntry(capture({ message: message({ userId: null, anonymousId: 'a' }) })).identity.userId, 'none');
  });

  it('bounds the lists and the names, counting what it leaves out', () => {
    const drops = Array.from({ length: MAX_DEBUGGER_NAMES + 7 }, (_, i) => ({ kind: 'property' as const, reason: 'unknown_property' as const, field: `properties.p${i}` }));
    const e = debuggerEntry(capture({ outcome: 'dropped', reason: 'nothing_to_keep', plan: { event: null, traits: [], drops } }));
    assert.equal(e.dropped.length, MAX_DEBUGGER_NAMES);
    assert.equal(e.omitted, 7);
    const long = boundedName('x'.repeat(500));
    assert.equal(long.length, MAX_DEBUGGER_NAME_LENGTH);
    assert.ok(long.endsWith('…'), 'marked as cut');
    // A cut through a surrogate pair leaves no half of it behind.
    const emoji = boundedName(`${'x'.repeat(MAX_DEBUGGER_NAME_LENGTH - 2)}😀😀`);
    assert.ok(!/[\ud800-\udbff]…$/.test(emoji), 'no lone high surrogate');
    assert.equal(boundedName('short'), 'short');
  });
});
