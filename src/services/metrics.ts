// Prometheus metrics of the collection path (what was stored, replayed and dropped, and why), of refused credentials
// and of background jobs.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export class Metrics {
  readonly registry = new Registry();
  readonly messages = new Counter({
    name: 'fiducia_messages_total',
    help: 'Accepted Segment messages by type and outcome (stored, duplicate, dropped).',
    labelNames: ['type', 'outcome'] as const,
    registers: [this.registry],
  });
  readonly dropped = new Counter({
    name: 'fiducia_dropped_fields_total',
    help: 'Events, properties, traits and context fields not stored, by kind and reason.',
    labelNames: ['kind', 'reason'] as const,
    registers: [this.registry],
  });
  readonly overloaded = new Counter({
    name: 'fiducia_ingest_refused_messages_total',
    help: 'Messages refused with 429 and Retry-After because the ingestion queue was past its bound (backpressure; those refused before their body was read are not counted here).',
    registers: [this.registry],
  });
  readonly overloadedRequests = new Counter({
    name: 'fiducia_ingest_refused_requests_total',
    help: 'Collection requests refused with 429 and Retry-After by backpressure, before or after their body was read.',
    registers: [this.registry],
  });
  readonly consents = new Counter({
    name: 'fiducia_consent_records_total',
    help: 'Consent ledger entries by status and method.',
    labelNames: ['status', 'method'] as const,
    registers: [this.registry],
  });
  readonly identity = new Counter({
    name: 'fiducia_identity_events_total',
    help: 'Identity resolution: subjects created, merges, refused links (conflict, blocked value).',
    labelNames: ['event'] as const,
    registers: [this.registry],
  });
  readonly rejected = new Counter({
    name: 'fiducia_rejected_requests_total',
    help: 'Requests refused at the boundary, by error code.',
    labelNames: ['code'] as const,
    registers: [this.registry],
  });
  readonly authFailures = new Counter({
    name: 'fiducia_auth_failures_total',
    help: 'Refused credentials by kind (token, write_key) and reason; the audit log holds one summary per window and network.',
    labelNames: ['credential', 'reason'] as const,
    registers: [this.registry],
  });
  readonly debuggerEntries = new Counter({
    name: 'fiducia_debugger_entries_total',
    help: 'Live debugger lines by this process: recorded, sampled_out (above the per-source rate) or write_failed.',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });
  readonly flushSeconds = new Histogram({
    name: 'fiducia_ingest_flush_seconds',
    help: 'Time of one group commit of ingestion work.',
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
    registers: [this.registry],
  });

  readonly jobRuns = new Counter({
    name: 'fiducia_job_runs_total',
    help: 'Background job runs by this process, by job and outcome (ok, failed, busy: leased by another process).',
    labelNames: ['job', 'outcome'] as const,
    registers: [this.registry],
  });
  readonly jobLastRun = new Gauge({
    name: 'fiducia_job_last_run_timestamp_seconds',
    help: 'When the last run of each job by this process finished (Unix time).',
    labelNames: ['job'] as const,
    registers: [this.registry],
  });
  readonly jobLastDuration = new Gauge({
    name: 'fiducia_job_last_duration_seconds',
    help: 'How long the last run of each job by this process took.',
    labelNames: ['job'] as const,
    registers: [this.registry],
  });
  readonly jobLastCount = new Gauge({
    name: 'fiducia_job_last_count',
    help: "The counts of each job's last run by this process (rows deleted, keys destroyed, …), by job and count.",
    labelNames: ['job', 'count'] as const,
    registers: [this.registry],
  });

  readonly deliveries = new Counter({
    name: 'fiducia_deliveries_total',
    help: 'Delivery attempts to destinations by this process, by destination and outcome (delivered, retry, dead, skipped).',
    labelNames: ['destination', 'outcome'] as const,
    registers: [this.registry],
  });
  readonly deliverySeconds = new Histogram({
    name: 'fiducia_delivery_seconds',
    help: 'Time of one delivery request to a destination, answered or not.',
    labelNames: ['destination'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });

  readonly exfiltrationAlerts = new Counter({
    name: 'fiducia_exfiltration_alerts_total',
    help: 'Exfiltration thresholds crossed (distinct subjects read per window), by window length in seconds, role and response (suspended, alerted, suspend_refused).',
    labelNames: ['window', 'role', 'response'] as const,
    registers: [this.registry],
  });
  readonly exfiltrationWebhooks = new Counter({
    name: 'fiducia_exfiltration_webhooks_total',
    help: 'Exfiltration alert webhook posts by outcome (delivered, failed, dropped).',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });

  constructor(defaults = false) {
    if (defaults) collectDefaultMetrics({ register: this.registry });
  }
}
