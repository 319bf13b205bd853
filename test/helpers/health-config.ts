// A privacy configuration for tests of special categories: the shipped one plus a consent-based purpose covering
// health data (the shipped purposes cover none, so collection would drop a health trait).
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { DEFAULT_CONFIG_PATH } from '../../src/services/config/config-loader.ts';

/** Writes the configuration into a new temp folder; the caller removes `dir`. `healthGoal` is the health trait. */
export function writeHealthConfig(): { dir: string; path: string } {
  const dir = mkdtempSync(join(tmpdir(), 'fiducia-cfg-'));
  const cfg = parse(readFileSync(DEFAULT_CONFIG_PATH, 'utf8')) as { purposes: unknown[]; trackingPlan: { traits: Record<string, string> } };
  cfg.purposes.push({ key: 'wellness', name: { it: 'Benessere', en: 'Wellness' }, legalBasis: 'consent', categories: ['user.sensitive.health', 'user.preference.lifestyle'], retentionDays: 365 });
  cfg.trackingPlan.traits.healthGoal = 'user.sensitive.health';
  const path = join(dir, 'fiducia.yaml');
  writeFileSync(path, stringify(cfg));
  return { dir, path };
}
