// Failed authentication, counted in memory per time window and client network and audited as one summary each.
//
// A request without a valid token costs no write: a stranger sending thousands of them adds one `auth.failed`
// entry per network and window instead of burying real events, and cannot make the server do durable work.
import { truncateIp } from '../domain/consent-proof.ts';
import type { AuditEntryInput } from '../services/audit/audit-port.ts';
import type { Metrics } from '../services/metrics.ts';

export type AuthFailureReason = 'missing_token' | 'unknown_token' | 'unknown_session' | 'bad_password';
const REASONS: readonly AuthFailureReason[] = ['missing_token', 'unknown_token', 'unknown_session', 'bad_password'];
const CREDENTIAL: Record<AuthFailureReason, string> = { missing_token: 'token', unknown_token: 'token', unknown_session: 'session', bad_password: 'password' };

/** Where addresses beyond the per-window bound, and requests without a usable address, are counted. */
export const OTHER_NETWORKS = 'other';
export const UNKNOWN_NETWORK = 'unknown';
/** Distinct route patterns named per summary; more are counted under `other`. */
const MAX_ROUTES = 16;

export interface AuthFailureOptions {
  /** Appends the summaries (to the audit log, in a transaction of their own). */
  write(entries: readonly AuditEntryInput[]): Promise<void>;
  /** Length of a window (default one minute). */
  windowMs?: number | undefined;
  /** Networks tracked per window; failures from further networks share one `other` summary (default 1000). */
  maxNetworks?: number | undefined;
  now?: (() => number) | undefined;
  metrics?: Metrics | undefined;
  /** Where a summary that could not be written is reported (counts only). */
  onWriteError?: ((err: unknown, failures: number) => void) | undefined;
}

interface Tally {
  requests: number;
  reasons: Record<AuthFailureReason, number>;
  routes: Map<string, number>;
}

interface Window {
  start: number;
  networks: Map<string, Tally>;
  timer: ReturnType<typeof setTimeout> | null;
}

/** The part `authenticate` needs. */
export interface AuthFailureRecorder {
  record(ip: string | undefined, reason: AuthFailureReason, route: string): void;
  /** Failed console logins from the network of `ip` in the current window (the login route refuses past a bound). */
  passwordFailures(ip: string | undefined): number;
}

export class AuthFailureLog implements AuthFailureRecorder {
  readonly #windowMs: number;
  readonly #maxNetworks: number;
  readonly #now: () => number;
  #window: Window | null = null;
  readonly #pending = new Set<Promise<void>>();
  #closed = false;

  constructor(private readonly opts: AuthFailureOptions) {
    this.#windowMs = opts.windowMs ?? 60_000;
    this.#maxNetworks = opts.maxNetworks ?? 1000;
    this.#now = opts.now ?? Date.now;
  }

  /** Counts one refused request; synchronous and in memory, so the 401 waits for nothing. */
  record(ip: string | undefined, reason: AuthFailureReason, route: string): void {
    this.opts.metrics?.authFailures.inc({ credential: CREDENTIAL[reason], reason });
    if (this.#closed) return;
    const now = this.#now();
    if (this.#window && now - this.#window.start >= this.#windowMs) this.#close(this.#window, now);
    const w = (this.#window ??= this.#open(now));
    const network = truncateIp(ip) ?? UNKNOWN_NETWORK;
    let tally = w.networks.get(network);
    if (!tally) {
      // Past the bound every new network shares one tally, so memory stays bounded whatever the addresses.
      const key = w.networks.size < this.#maxNetworks ? network : OTHER_NETWORKS;
      tally = w.networks.get(key) ?? { requests: 0, reasons: { missing_token: 0, unknown_token: 0, unknown_session: 0, bad_password: 0 }, routes: new Map() };
      w.networks.set(key, tally);
    }
    tally.requests++;
    tally.reasons[reason]++;
    const routeKey = tally.routes.has(route) || tally.routes.size < MAX_ROUTES ? route : 'other';
    tally.routes.set(routeKey, (tally.routes.get(routeKey) ?? 0) + 1);
  }

  passwordFailures(ip: string | undefined): number {
    const w = this.#window;
    if (!w || this.#now() - w.start >= this.#windowMs) return 0;
    const network = truncateIp(ip) ?? UNKNOWN_NETWORK;
    // A network past the per-window bound is counted under `other`, and limited with it.
    const tally = w.networks.get(network) ?? (w.networks.size >= this.#maxNetworks ? w.networks.get(OTHER_NETWORKS) : undefined);
    return tally?.reasons.bad_password ?? 0;
  }

  /** Writes the current window now (tests; shutdown) and waits for every summary still being written. */
  async flush(): Promise<void> {
    if (this.#window) this.#close(this.#window, this.#now());
    while (this.#pending.size > 0) await Promise.all([...this.#pending]);
  }

  /** Flushes, and counts later failures in metrics only. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.flush();
  }

  #open(now: number): Window {
    const w: Window = { start: now, networks: new Map(), timer: null };
    // The window is written when it ends even if no further failure arrives; the timer never keeps the process up.
    w.timer = setTimeout(() => {
      if (this.#window === w) this.#close(w, this.#now());
    }, this.#windowMs);
    w.timer.unref();
    return w;
  }

  #close(w: Window, now: number): void {
    if (w.timer) clearTimeout(w.timer);
    if (this.#window === w) this.#window = null;
    const entries = summaries(w, Math.min(now, w.start + this.#windowMs));
    const failures = entries.reduce((n, e) => n + (e.counts?.requests ?? 0), 0);
    const p = this.opts
      .write(entries)
      .catch((err: unknown) => this.opts.onWriteError?.(err, failures))
      .finally(() => this.#pending.delete(p));
    this.#pending.add(p);
  }
}

/** One `auth.failed` entry per network of the window: counts by reason and the route patterns that were tried. */
export function summaries(w: { start: number; networks: ReadonlyMap<string, Tally> }, end: number): AuditEntryInput[] {
  const out: AuditEntryInput[] = [];
  for (const [network, t] of w.networks) {
    const counts: Record<string, number> = { requests: t.requests };
    for (const r of REASONS) if (t.reasons[r] > 0) counts[r] = t.reasons[r];
    out.push({
      actor: 'anonymous',
      action: 'auth.failed',
      outcome: 'denied',
      counts,
      details: {
        network,
        windowStart: new Date(w.start).toISOString(),
        windowEnd: new Date(end).toISOString(),
        routes: [...t.routes.keys()].sort().join(' '),
      },
    });
  }
  return out;
}
