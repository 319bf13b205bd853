// What bench/ingest.ts and the Fiducia process of bench/server.ts say to each other over IPC.

export const BENCH_WRITE_KEY = 'bench-write-key-0123456789';
export const BENCH_ADMIN_TOKEN = 'bench-admin-token-0123456789';

export type ServerRequest = { cmd: 'stats' } | { cmd: 'stop' };

export interface ServerStats {
  tables: Record<string, number>;
  /** fiducia_messages_total by `type/outcome`. */
  messages: Record<string, number>;
  /** fiducia_dropped_fields_total by `kind/reason`. */
  dropped: Record<string, number>;
  /** fiducia_identity_events_total by `event` (subjects created, merges). */
  identity: Record<string, number>;
  /** Group commits and their total time (fiducia_ingest_flush_seconds, if present). */
  flushes: { count: number; seconds: number; overOneSecond: number } | null;
  /** Gaps of the server's event loop past 250 ms (a synchronous statement, a collection): how many, the longest, in all. */
  stalls: { count: number; longestMs: number; totalMs: number };
  /** Garbage collections of the server: the longest pause and the time in all (PerformanceObserver 'gc'). */
  gc: { longestMs: number; totalMs: number };
  /** Time per SQL statement shape, with `--sql-timing`. */
  sql: { sql: string; count: number; ms: number }[] | null;
  /** CPU time (user + system) of the server process so far, in microseconds. */
  cpuMicros: number;
}

export type ServerReply =
  | { type: 'ready'; port: number }
  | { type: 'stats'; stats: ServerStats }
  | { type: 'stopped' }
  | { type: 'error'; message: string };
