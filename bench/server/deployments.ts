/**
 * The scale-out benchmark's deployments (bench/server/scale-out.ts): started side by side, so that
 * their timed rounds can take turns, and each deployment's figures as the median of its rounds.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { median, progress, type TempFolders } from '../lib.js';
import type { Counters } from './cpu-probe.js';
import { setteeCounters } from './cpu-probe.js';
import type { BenchPostgres } from './postgres.js';
import { ServerProcess, type SetteeEntry } from './servers.js';
import type { Deployment, SpreadFigures, SpreadRun } from './spread.js';

/** A deployment to run: `servers` Settee servers on one fresh PostgreSQL database, or on SQLite files. */
export interface Setup<Key extends string = string> {
  key: Key;
  label: string;
  servers: number;
  postgres: boolean;
}

export interface StartedDeployment<Key extends string = string> {
  setup: Setup<Key>;
  deployment: Deployment;
  /** The PostgreSQL database's URL (PostgreSQL deployments). */
  url?: string;
}

export interface StartContext {
  root: string;
  settee: SetteeEntry;
  pg: BenchPostgres;
  folders: TempFolders;
  /** A folder for each server's output, when asked for. */
  logs?: string;
}

/** Starts the servers of `setup` and returns the deployment the load runs against. */
export async function startDeployment<Key extends string>(
  setup: Setup<Key>,
  { root, settee, pg, folders, logs }: StartContext,
): Promise<StartedDeployment<Key>> {
  const database = setup.postgres ? `settee_${setup.key.replace('-', '_')}` : undefined;
  const url = database ? await pg.database(database) : undefined;
  const servers: ServerProcess[] = [];
  for (let i = 0; i < setup.servers; i++) {
    progress(`${setup.label}: starting server ${i + 1} of ${setup.servers}`);
    if (logs) mkdirSync(logs, { recursive: true });
    servers.push(
      await ServerProcess.start('settee', {
        root,
        dir: folders.path(`${setup.key}-${i}`),
        settee,
        ...(url ? { postgres: url } : {}),
        ...(logs ? { logFile: join(logs, `${setup.key}-${i}.log`) } : {}),
      }),
    );
  }
  const deployment: Deployment = {
    label: setup.label,
    servers,
    postgresCpuMs: () => (database ? pg.cpuMs() : 0),
    counters: async () => ({
      ...setteeCounters(servers.map((server) => server.pid)),
      'settee requests': servers.reduce((sum, server) => sum + server.requestLines, 0),
      ...(database ? await pg.counters(database) : {}),
    }),
    settle: async (options) => {
      if (database) await pg.settle(database, options);
    },
  };
  return { setup, deployment, ...(url ? { url } : {}) };
}

function medianCounters(all: readonly Counters[]): Counters {
  const keys = new Set(all.flatMap((counters) => Object.keys(counters)));
  return Object.fromEntries([...keys].map((key) => [key, median(all.map((counters) => counters[key] ?? 0))]));
}

function medianFigures(all: readonly SpreadFigures[]): SpreadFigures {
  const of = (value: (figures: SpreadFigures) => number) => median(all.map(value));
  return {
    docs: all[0]!.docs,
    ms: of((f) => f.ms),
    docsPerSec: of((f) => f.docsPerSec),
    setteeCpuMsPerDoc: of((f) => f.setteeCpuMsPerDoc),
    postgresCpuMsPerDoc: of((f) => f.postgresCpuMsPerDoc),
    cpuMsPerDoc: of((f) => f.cpuMsPerDoc),
    // Every round loads the same documents, and each was checked against its sources.
    digest: all[0]!.digest,
    counters: medianCounters(all.map((f) => f.counters)),
  };
}

/** Each figure of each phase: its median over the rounds (each figure on its own). */
export function medianRun(rounds: readonly SpreadRun[]): SpreadRun {
  const phase = (get: (run: SpreadRun) => SpreadFigures) => medianFigures(rounds.map(get));
  return {
    pouchPush: phase((run) => run.pouchPush),
    pouchPull: phase((run) => run.pouchPull),
    setteePush: phase((run) => run.setteePush),
    setteePull: phase((run) => run.setteePull),
  };
}
