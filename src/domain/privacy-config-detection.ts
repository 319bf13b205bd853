// The `detection` block of the privacy configuration: exfiltration thresholds (distinct subjects per window), which
// roles are suspended on crossing one, and the alert webhook. Defaults apply when the block is absent.
import { Type } from '@sinclair/typebox';
import type { Static } from '@sinclair/typebox';
import { endpointError, ENV_NAME, MAX_ENV_NAME } from './privacy-config-destinations.ts';
import { Closed, oneOf, Opt, Text } from './privacy-config-shared.ts';
import type { SemanticErrors } from './privacy-config-shared.ts';

export type DetectionRole = 'admin' | 'dpo' | 'analyst' | 'service';
const ROLES: readonly DetectionRole[] = ['admin', 'dpo', 'analyst', 'service'];

export interface DetectionWindow {
  /** Length of the sliding window. */
  seconds: number;
  /** Reading this many distinct subjects within the window raises the alert. */
  subjects: number;
}

export interface DetectionSettings {
  windows: DetectionWindow[];
  /** Roles whose tokens and console users are suspended when they cross a threshold; the others only raise the alert. */
  suspend: DetectionRole[];
  webhook?: { endpoint: string; secretEnv: string; allowPrivateNetwork: boolean } | undefined;
}

/** Bounds of the block: each window costs a few sketches per active principal, so their number is small. */
export const DETECTION_LIMITS = { windows: 6, minSeconds: 10, maxSeconds: 7 * 86_400, maxSubjects: 10_000_000 } as const;

/**
 * Defaults (docs/exfiltration.md): a burst (a minute), a working session (an hour) and a day. A `service` token is a
 * program whose reads follow its own traffic; one that reaches these counts is far past a shop's normal lookups.
 */
export const DEFAULT_DETECTION: DetectionSettings = Object.freeze({
  windows: [
    { seconds: 60, subjects: 1000 },
    { seconds: 3600, subjects: 10_000 },
    { seconds: 86_400, subjects: 50_000 },
  ],
  suspend: ['service'],
}) as DetectionSettings;

export const DetectionSchema = Closed({
  windows: Opt(
    Type.Array(
      Closed({
        seconds: Type.Integer({ minimum: DETECTION_LIMITS.minSeconds, maximum: DETECTION_LIMITS.maxSeconds, errorMessage: `must be a whole number of seconds from ${DETECTION_LIMITS.minSeconds} to ${DETECTION_LIMITS.maxSeconds} (7 days)` }),
        subjects: Type.Integer({ minimum: 1, maximum: DETECTION_LIMITS.maxSubjects, errorMessage: `must be a whole number of subjects from 1 to ${DETECTION_LIMITS.maxSubjects}` }),
      }),
      { minItems: 1, maxItems: DETECTION_LIMITS.windows, errorMessage: `must list 1 to ${DETECTION_LIMITS.windows} windows` },
    ),
  ),
  suspend: Opt(Type.Array(oneOf(ROLES), { maxItems: ROLES.length, errorMessage: 'must list roles among admin, dpo, analyst, service' })),
  webhook: Opt(Closed({ endpoint: Text, secretEnv: Text, allowPrivateNetwork: Opt(Type.Boolean({ errorMessage: 'must be true or false' })) })),
});
type DetectionInput = Static<typeof DetectionSchema>;

export function checkDetection(d: DetectionInput | undefined, errors: SemanticErrors): void {
  if (!d) return;
  errors.duplicates((d.windows ?? []).map((w) => String(w.seconds)), (i) => ['detection', 'windows', i, 'seconds'], 'window length');
  errors.duplicates(d.suspend ?? [], (i) => ['detection', 'suspend', i], 'role');
  const hook = d.webhook;
  if (!hook) return;
  const endpoint = endpointError(hook.endpoint, hook.allowPrivateNetwork ?? false);
  if (endpoint !== undefined) errors.add(['detection', 'webhook', 'endpoint'], endpoint);
  // The value is never echoed: it may be the secret itself, pasted in the wrong place.
  if (hook.secretEnv.length > MAX_ENV_NAME || !ENV_NAME.test(hook.secretEnv)) {
    errors.add(['detection', 'webhook', 'secretEnv'], 'must be the name of the environment variable that holds the signing secret (e.g. FIDUCIA_ALERT_WEBHOOK_SECRET), never the secret itself');
  }
}

/** The block as written, defaults filled in (windows shortest first). */
export function normalizeDetection(d: DetectionInput): DetectionSettings {
  const windows = (d.windows ?? DEFAULT_DETECTION.windows).map((w) => ({ seconds: w.seconds, subjects: w.subjects })).sort((a, b) => a.seconds - b.seconds);
  return {
    windows,
    suspend: [...(d.suspend ?? DEFAULT_DETECTION.suspend)],
    ...(d.webhook ? { webhook: { endpoint: d.webhook.endpoint, secretEnv: d.webhook.secretEnv, allowPrivateNetwork: d.webhook.allowPrivateNetwork ?? false } } : {}),
  };
}
