// A minimal Segment-compatible sender for the demo: page/track/identify batched to POST /v1/batch, only with consent.
import type { Choices } from '../globals.d.ts';
import { ajs, anonymousId, uuid } from '../shared/ajs.ts';

export type Call = { type: 'page' | 'track' | 'identify'; fields: Record<string, unknown> };
/** Why a call was not sent: no consent at all (identify), none for browsing events, the server refused, or no network. */
export type NotSentReason = 'no_consent' | 'no_browsing_consent' | 'server' | 'network';
export type LogEntry = { call: Call; sent: boolean; reason?: NotSentReason; status?: number };

/** Purposes whose consent covers browsing events in the shipped configuration; identify needs any consent. */
const BROWSING = ['analytics', 'personalization', 'advertising'];

export class MiniAnalytics {
  #choices: Choices | null = null;
  #held: Call[] = [];
  #queue: ({ call: Call } & Record<string, unknown>)[] = [];
  // eslint-disable-next-line no-unused-private-class-members -- read by `??=` in #call, which the rule counts as a write only
  #timer: ReturnType<typeof setTimeout> | undefined;
  #delivered: ((calls: Call[]) => void)[] = [];

  constructor(
    private readonly writeKey: string,
    private readonly log: (entry: LogEntry) => void,
    private readonly endpoint = '',
  ) {}

  /** The widget's effective choices; calls made before they were known are sent or dropped now. */
  consent(choices: Choices): void {
    this.#choices = choices;
    const held = this.#held.splice(0);
    for (const c of held) this.#call(c);
  }

  /** Called after Fiducia stored a batch (it answers only after a durable commit), with the calls it held. */
  onDelivered(listener: (calls: Call[]) => void): void {
    this.#delivered.push(listener);
  }

  page(name: string, properties: Record<string, unknown> = {}): void {
    this.#call({ type: 'page', fields: { name, properties: { title: document.title, path: location.pathname, url: location.origin + location.pathname, ...properties } } });
  }

  track(event: string, properties: Record<string, unknown> = {}): void {
    this.#call({ type: 'track', fields: { event, properties } });
  }

  identify(traits: Record<string, unknown>): void {
    this.#call({ type: 'identify', fields: { traits } });
  }

  #allowed(type: Call['type']): boolean {
    const c = this.#choices ?? {};
    if (type === 'identify') return Object.entries(c).some(([k, v]) => v && k !== 'service' && k !== 'security');
    return BROWSING.some((k) => c[k] === true);
  }

  #call(call: Call): void {
    // Until the choice is known nothing leaves the page; a refused call is dropped, never sent later.
    if (!this.#choices) {
      this.#held.push(call);
      return;
    }
    if (!this.#allowed(call.type)) {
      this.log({ call, sent: false, reason: call.type === 'identify' ? 'no_consent' : 'no_browsing_consent' });
      return;
    }
    const userId = ajs('ajs_user_id');
    this.#queue.push({
      call,
      type: call.type,
      messageId: uuid(),
      anonymousId: anonymousId(),
      ...(userId ? { userId } : {}),
      timestamp: new Date().toISOString(),
      context: {
        library: { name: 'fiducia-demo', version: '1.0.0' },
        page: { path: location.pathname, title: document.title },
        locale: navigator.language,
        // Segment's consent field: the server sees the choice that allowed this call, even before the consent POST lands.
        consent: { categoryPreferences: this.#choices },
      },
      ...call.fields,
    });
    this.log({ call, sent: true });
    this.#timer ??= setTimeout(() => void this.flush(), 150);
  }

  async flush(): Promise<void> {
    this.#timer = undefined;
    const queued = this.#queue.splice(0);
    if (queued.length === 0) return;
    const batch = queued.map(({ call: _call, ...message }) => message);
    try {
      const r = await fetch(`${this.endpoint}v1/batch`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Basic ${btoa(`${this.writeKey}:`)}` },
        body: JSON.stringify({ batch, sentAt: new Date().toISOString() }),
      });
      if (!r.ok) {
        this.log({ call: { type: 'track', fields: { event: `batch of ${batch.length}` } }, sent: false, reason: 'server', status: r.status });
        return;
      }
    } catch {
      this.log({ call: { type: 'track', fields: { event: `batch of ${batch.length}` } }, sent: false, reason: 'network' });
      return;
    }
    const calls = queued.map((q) => q.call);
    for (const listener of this.#delivered) listener(calls);
  }
}
