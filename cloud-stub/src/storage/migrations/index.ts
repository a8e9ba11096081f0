/**
 * The migrations, in order. Each is written once for both engines; one that must differ takes
 * the engine (the factory's argument). Names sort in the order they run; never rename or edit one
 * that has shipped: add a new one.
 */
import type { Migration } from 'kysely';
import type { StorageEngine } from '../storage.js';
import { workshopRegistry } from './0001-workshop-registry.js';
import { accounts } from './0002-accounts.js';
import { stations } from './0003-stations.js';
import { moduleRegistry } from './0004-module-registry.js';
import { sharedGuards } from './0005-shared-guards.js';

export type EngineMigration = (engine: StorageEngine) => Migration;

export const MIGRATIONS: ReadonlyArray<readonly [name: string, migration: EngineMigration]> = [
  ['0001-workshop-registry', workshopRegistry],
  ['0002-accounts', accounts],
  ['0003-stations', stations],
  ['0004-module-registry', moduleRegistry],
  ['0005-shared-guards', sharedGuards],
];
