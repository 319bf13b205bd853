import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { MessageCapture } from '../../domain/debugger-entry.ts';
import type { MessagePlan } from '../../domain/collection.ts';
import { DailyTally } from './daily-tally.ts';

const DAY1 = Date.parse('2026-12-06T23:59:59Z');
const DAY2 = Date.parse('2026-12-07T00:00:00Z');

function capture(type: string, outcome: MessageCapture['outcome'], at: number, extra: Partial<MessageCapture> = {}): MessageCapture {
  return { message: { type } as MessageCapture['message'], sourceKind: 'server', receivedAt: at, outcome, reason: null, plan: null, userIdUnverified: false, ...extra };
}
const sorted = (rows: { day: string; metric: string; key: string; count: number }[]) => [...rows].sort((a, b) => `${a.day}${a.metric}${a.key}`.localeCompare(`${b.day}${b.metric}${b.key}`));

describe('DailyTally', () => {
  it('counts messages per UTC day, type and outcome, whole-message drops and each dropped field by reason', () => {
    const t = new DailyTally();
    const plan = { drops: [{ field: 'properties.a', reason: 'unknown_property' }, { field: 'traits.b', reason: 'no_basis' }] } as unknown as MessagePlan;
    t.add(capture('track', 'stored', DAY1, { plan }));
    t.add(capture('track', 'stored', DAY2, { plan, userIdUnverified: true }));
    t.add(capture('track', 'duplicate', DAY2));
    t.add(capture('page', 'dropped', DAY2, { reason: 'nothing_to_keep' }));
    assert.equal(t.empty, false);
    assert.deepEqual(sorted(t.drain()), sorted([
      { day: '2026-12-06', metric: 'messages', key: 'track.stored', count: 1 },
      { day: '2026-12-06', metric: 'field_drops', key: 'unknown_property', count: 1 },
      { day: '2026-12-06', metric: 'field_drops', key: 'no_basis', count: 1 },
      { day: '2026-12-07', metric: 'messages', key: 'track.stored', count: 1 },
      { day: '2026-12-07', metric: 'messages', key: 'track.duplicate', count: 1 },
      { day: '2026-12-07', metric: 'messages', key: 'page.dropped', count: 1 },
      { day: '2026-12-07', metric: 'message_drops', key: 'nothing_to_keep', count: 1 },
      { day: '2026-12-07', metric: 'field_drops', key: 'unverified_identity', count: 1 },
      { day: '2026-12-07', metric: 'field_drops', key: 'unknown_property', count: 1 },
      { day: '2026-12-07', metric: 'field_drops', key: 'no_basis', count: 1 },
    ]));
    assert.equal(t.empty, true, 'a drain starts from zero');
    assert.deepEqual(t.drain(), []);
  });

  it('takes rows back after a failed write and adds them to what was counted since', () => {
    const t = new DailyTally();
    t.add(capture('track', 'stored', DAY2));
    const rows = t.drain();
    t.add(capture('track', 'stored', DAY2));
    t.restore([...rows, { day: '2026-12-07', metric: 'field_drops', key: 'no_basis', count: 4 }]);
    assert.deepEqual(sorted(t.drain()), sorted([
      { day: '2026-12-07', metric: 'messages', key: 'track.stored', count: 2 },
      { day: '2026-12-07', metric: 'field_drops', key: 'no_basis', count: 4 },
    ]));
  });
});
