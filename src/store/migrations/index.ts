// The ordered list of migrations of each database; a new migration is a new file added at the end of its list.
import type { Migration, MigrationProvider } from 'kysely';
import type { Dialect } from '../database.ts';
import { initial } from './0001-initial.ts';
import { keystore } from './keys-0001.ts';

const DATA: [string, (dialect: Dialect) => Migration][] = [
  ['0001_initial', initial],
];

const KEYS: [string, (dialect: Dialect) => Migration][] = [
  ['0001_keystore', keystore],
];

class StaticProvider implements MigrationProvider {
  constructor(private readonly migrations: Record<string, Migration>) {}
  async getMigrations(): Promise<Record<string, Migration>> {
    return this.migrations;
  }
}

function provider(list: [string, (dialect: Dialect) => Migration][], dialect: Dialect): MigrationProvider {
  return new StaticProvider(Object.fromEntries(list.map(([name, make]) => [name, make(dialect)])));
}

export const dataMigrationProvider = (dialect: Dialect) => provider(DATA, dialect);
export const keyMigrationProvider = (dialect: Dialect) => provider(KEYS, dialect);
