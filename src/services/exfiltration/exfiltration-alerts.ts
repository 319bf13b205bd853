// What a crossed threshold does: suspends the token or console user where configured, writes the `exfiltration.alert` audit entry,
// counts it on /metrics and posts a signed webhook when one is configured. Nothing personal leaves: a principal id,
// the window, the threshold and the subject count.
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { Webhook } from 'standardwebhooks';
import type { DetectionSettings } from '../../domain/privacy-config-detection.ts';
import type { AccessService } from '../access/access.ts';
import type { AuditRecorder } from '../audit/audit-port.ts';
import type { ConsoleUsers } from '../console/console-users.ts';
import type { OutboundClient } from '../destinations/outbound.ts';
import type { Metrics } from '../metrics.ts';
import type { Crossing } from './disclosure-monitor.ts';

export interface AlertDeps {
  settings: DetectionSettings;
  access: AccessService;
  /** Console users, suspended like tokens when their role is listed in `suspend` (principal `user:<id>`). */
  console?: ConsoleUsers | undefined;
  audit: AuditRecorder;
  metrics: Metrics;
  logger: Logger;
  sender: OutboundClient;
  /** The webhook's signing secret (from the variable `webhook.secretEnv` names); required when a webhook is configured. */
  webhookSecret?: string | undefined;
}

/** Attempts of one webhook post (retryable failures only), the waits between them growing. */
const WEBHOOK_ATTEMPTS = 3;
/** Webhook posts in flight at once; past it a new alert's post is dropped (the audit entry is the record). */
const MAX_WEBHOOKS_IN_FLIGHT = 16;

export type AlertOutcome = 'suspended' | 'alerted' | 'suspend_refused';

/** The principal prefix of console users (src/services/console/console-users.ts principalOf). */
const USER_PREFIX = 'user:';

export class ExfiltrationAlerts {
  readonly #signer: Webhook | undefined;
  readonly #inFlight = new Set<Promise<void>>();

  constructor(private readonly deps: AlertDeps) {
    const hook = deps.settings.webhook;
    if (hook && !deps.webhookSecret) throw new Error(`detection.webhook: the environment variable ${hook.secretEnv} (its signing secret) is not set`);
    this.#signer = hook && deps.webhookSecret ? new Webhook(deps.webhookSecret) : undefined;
  }

  async raise(c: Crossing): Promise<AlertOutcome> {
    // Suspended first: the next request with the token or session is refused as soon as this commits.
    const { role, outcome } = c.principal.startsWith(USER_PREFIX) ? await this.#suspendUser(c) : await this.#suspendToken(c);
    await this.deps.audit.record([
      {
        actor: 'system',
        action: 'exfiltration.alert',
        outcome: 'ok',
        counts: { subjects: c.subjects },
        details: { principal: c.principal, role, windowSeconds: c.windowSeconds, threshold: c.threshold, exact: c.exact, response: outcome },
      },
    ]);
    this.deps.metrics.exfiltrationAlerts.inc({ window: String(c.windowSeconds), role, response: outcome });
    this.deps.logger.warn({ principal: c.principal, role, windowSeconds: c.windowSeconds, threshold: c.threshold, subjects: c.subjects, response: outcome }, 'exfiltration threshold crossed');
    this.#post(c, role, outcome);
    return outcome;
  }

  #suspends(role: string): boolean {
    return (this.deps.settings.suspend as readonly string[]).includes(role);
  }

  async #suspendToken(c: Crossing): Promise<{ role: string; outcome: AlertOutcome }> {
    const token = await this.deps.access.tokenById(c.principal);
    if (!token) return { role: 'unknown', outcome: 'alerted' };
    if (!this.#suspends(token.role)) return { role: token.role, outcome: 'alerted' };
    const r = await this.deps.access.suspendToken(c.principal, 'exfiltration', { windowSeconds: c.windowSeconds, subjects: c.subjects });
    return { role: token.role, outcome: r === 'suspended' ? 'suspended' : r === 'last_admin' ? 'suspend_refused' : 'alerted' };
  }

  /** A console user whose role is listed in `suspend`: suspended and every session ended (an admin token can reinstate). */
  async #suspendUser(c: Crossing): Promise<{ role: string; outcome: AlertOutcome }> {
    const users = this.deps.console;
    const id = c.principal.slice(USER_PREFIX.length);
    const user = users ? await users.userById(id) : null;
    if (!users || !user) return { role: 'unknown', outcome: 'alerted' };
    if (!this.#suspends(user.role)) return { role: user.role, outcome: 'alerted' };
    const r = await users.suspendUser(id, 'exfiltration', { windowSeconds: c.windowSeconds, subjects: c.subjects });
    return { role: user.role, outcome: r === 'suspended' ? 'suspended' : 'alerted' };
  }

  /** Waits for the webhook posts in flight (tests, shutdown). */
  async settle(): Promise<void> {
    while (this.#inFlight.size > 0) await Promise.allSettled([...this.#inFlight]);
  }

  #post(c: Crossing, role: string, outcome: AlertOutcome): void {
    const hook = this.deps.settings.webhook;
    if (!hook || !this.#signer) return;
    if (this.#inFlight.size >= MAX_WEBHOOKS_IN_FLIGHT) {
      this.deps.metrics.exfiltrationWebhooks.inc({ outcome: 'dropped' });
      return;
    }
    const id = `exf_${randomUUID()}`;
    // Wall-clock time, whatever clock the windows run on: receivers check the signature's timestamp against theirs.
    const at = Date.now();
    const body = JSON.stringify({
      type: 'exfiltration.alert',
      id,
      timestamp: new Date(at).toISOString(),
      principal: { kind: c.principal.startsWith(USER_PREFIX) ? 'user' : 'token', id: c.principal, role },
      windowSeconds: c.windowSeconds,
      threshold: c.threshold,
      subjects: c.subjects,
      exact: c.exact,
      response: outcome,
    });
    const signer = this.#signer;
    const send = async (): Promise<void> => {
      for (let attempt = 1; attempt <= WEBHOOK_ATTEMPTS; attempt++) {
        const when = new Date();
        const headers = {
          'content-type': 'application/json',
          'user-agent': 'Fiducia-Alerts/1',
          'webhook-id': id,
          'webhook-timestamp': String(Math.floor(when.getTime() / 1000)),
          'webhook-signature': signer.sign(id, when, body),
        };
        const r = await this.deps.sender.post({ url: hook.endpoint, headers, body, allowPrivateNetwork: hook.allowPrivateNetwork });
        if (r.ok) {
          this.deps.metrics.exfiltrationWebhooks.inc({ outcome: 'delivered' });
          return;
        }
        if (!r.retryable || attempt === WEBHOOK_ATTEMPTS) {
          this.deps.metrics.exfiltrationWebhooks.inc({ outcome: 'failed' });
          this.deps.logger.error({ error: r.error, status: r.status }, 'exfiltration alert webhook failed');
          return;
        }
        await new Promise((resolve) => setTimeout(resolve, 500 * 4 ** (attempt - 1)).unref());
      }
    };
    const p = send().catch((err: unknown) => this.deps.logger.error({ err: err instanceof Error ? err.message : String(err) }, 'exfiltration alert webhook failed'));
    this.#inFlight.add(p);
    void p.finally(() => this.#inFlight.delete(p));
  }
}
