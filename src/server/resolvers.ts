import { pathToFileURL } from 'node:url';
import { resolve as resolvePath } from 'node:path';
import { crdtMerge, type CrdtSchema } from '../conflicts/crdt-merge.js';
import { fieldMerge } from '../conflicts/field-merge.js';
import { couchdbDefault, lastWriterWins, type Resolver } from '../conflicts/resolvers.js';
import { DEFAULT_FIELDS_FIELD } from '../conflicts/stamps.js';
import { badRequest, SetteeError } from '../core/errors.js';
import type { Database, ResolverChoice } from '../database/database.js';
import type { StampingOptions } from '../database/stamping.js';

/**
 * Per-database automatic conflict resolution on the server (`PUT /{db}/_resolver`): a strategy by
 * name with its options, kept in the database's own file so it survives restarts and goes away
 * with the database.
 */

/** What `PUT /{db}/_resolver` takes and `GET` shows: what the database keeps. */
export type ResolverConfig = ResolverChoice;

/**
 * A strategy: builds a resolver from its options, and says how writes must be stamped for it to
 * have something to compare. A server resolver module exports these by name.
 */
export interface ResolverStrategy {
  create(options: Record<string, unknown>): Resolver;
  stamping?(options: Record<string, unknown>): Pick<StampingOptions, 'field' | 'fields'> | false;
}

/** The `GET /{db}/_resolver` answer. */
export interface ResolverStatus extends ResolverConfig {
  /** False when the configured strategy could not be set up at open (e.g. its module is gone). */
  active: boolean;
  reason?: string;
}

const NONE: ResolverConfig = Object.freeze({ strategy: 'couchdb' });

const BUILT_IN: Readonly<Record<string, ResolverStrategy>> = {
  couchdb: { create: () => couchdbDefault },
  'last-writer-wins': {
    create: (options) => lastWriterWins({ field: stringOption(options, 'field') }),
    stamping: (options) => ({ field: stringOption(options, 'field'), fields: false }),
  },
  'field-merge': {
    create: (options) => fieldMerge({ field: stringOption(options, 'field') }),
    stamping: (options) => ({ field: false, fields: stringOption(options, 'field') ?? DEFAULT_FIELDS_FIELD }),
  },
  crdt: {
    create: (options) => crdtMerge(schemaOption(options), { field: stringOption(options, 'field') }),
    stamping: (options) => ({ field: stringOption(options, 'field'), fields: false }),
  },
};

/**
 * The strategies a server offers: the built-in ones and those of its resolver modules. Each
 * database's configuration is changed, and restored, one at a time (`inTurn`): a change made
 * here and one heard from another server never leave a resolver installed that is not the one
 * stored.
 */
export class ResolverSettings {
  private readonly strategies: Readonly<Record<string, ResolverStrategy>>;
  private readonly failures = new WeakMap<Database, string>();
  private readonly turns = new WeakMap<Database, Promise<unknown>>();
  /**
   * Set by the registry: tells the other servers sharing the database that its configuration
   * changed, so that they restore it (see `restore`). Called once it is stored.
   */
  announce: ((db: Database) => Promise<void>) | undefined;

  constructor(custom: Readonly<Record<string, ResolverStrategy>> = {}) {
    for (const name of Object.keys(custom)) {
      if (Object.hasOwn(BUILT_IN, name)) throw new Error(`A resolver module may not redefine "${name}"`);
    }
    this.strategies = { ...BUILT_IN, ...custom };
  }

  /** Names of the strategies on offer. */
  names(): string[] {
    return Object.keys(this.strategies);
  }

  /**
   * Checks and applies `config` to `db`, then stores it: the database stamps its writes as the
   * strategy needs and resolves its current conflicts. Returns how many it resolved.
   */
  async apply(db: Database, config: unknown): Promise<number> {
    const checked = this.check(config);
    const resolved = await this.inTurn(db, async () => {
      const count = await this.install(db, checked);
      await db.saveResolverChoice(checked);
      this.failures.delete(db);
      return count;
    });
    await this.announce?.(db);
    return resolved;
  }

  /**
   * The resolver of a strategy by name with its options, checked as `apply` checks them, for a
   * one-off resolution (`POST /{db}/_resolve`) that leaves the database's configuration alone.
   */
  create(strategy: unknown, options?: unknown): Resolver {
    return this.build(this.check({ strategy, ...(options === undefined ? {} : { options }) }));
  }

  /** Back to CouchDB's behaviour: no resolver, no stamping. */
  async reset(db: Database): Promise<void> {
    await this.inTurn(db, async () => {
      await this.install(db, NONE);
      await db.saveResolverChoice(NONE);
      this.failures.delete(db);
    });
    await this.announce?.(db);
  }

  /**
   * Applies the stored configuration of a database: as it opens, and when another server changed
   * it. A configuration that cannot be set up (its module is gone) leaves the database without
   * a resolver, and says why in `status`.
   */
  async restore(db: Database): Promise<void> {
    await this.inTurn(db, async () => {
      const config = await this.stored(db);
      try {
        await this.install(db, this.check(config));
        this.failures.delete(db);
      } catch (error) {
        await this.install(db, NONE);
        this.failures.set(db, error instanceof Error ? error.message : String(error));
      }
    });
  }

  async status(db: Database): Promise<ResolverStatus> {
    const config = await this.stored(db);
    const reason = this.failures.get(db);
    return reason === undefined ? { ...config, active: true } : { ...config, active: false, reason };
  }

  /** Runs `task` after every change of `db`'s configuration begun before it. */
  private inTurn<T>(db: Database, task: () => Promise<T>): Promise<T> {
    const result = (this.turns.get(db) ?? Promise.resolve()).then(task);
    const settled = result.catch(() => undefined);
    this.turns.set(db, settled);
    return result;
  }

  private async stored(db: Database): Promise<ResolverConfig> {
    return (await db.resolverChoice()) ?? NONE;
  }

  private build(config: ResolverConfig): Resolver {
    try {
      return this.strategies[config.strategy]!.create(config.options ?? {});
    } catch (error) {
      throw badRequest(`Invalid options for ${config.strategy}: ${(error as Error).message}`);
    }
  }

  private async install(db: Database, config: ResolverConfig): Promise<number> {
    const strategy = this.strategies[config.strategy]!;
    const options = config.options ?? {};
    const resolver = this.build(config);
    const stamping = config.stamping ?? strategy.stamping?.(options) ?? false;
    await db.setStamping(stamping === false ? false : { ...stamping });
    // CouchDB's default writes nothing: no need to read every conflicted document's leaves.
    return db.setResolver(resolver === couchdbDefault ? null : resolver);
  }

  private check(config: unknown): ResolverConfig {
    if (typeof config !== 'object' || config === null || Array.isArray(config)) {
      throw badRequest('The resolver must be a JSON object: {"strategy": …, "options": {…}}');
    }
    const { strategy, options, stamping, ...rest } = config as Record<string, unknown>;
    const unknown = Object.keys(rest);
    if (unknown.length > 0)
      throw badRequest(`Unknown fields: ${unknown.join(', ')} (use strategy, options, stamping)`);
    if (typeof strategy !== 'string' || !Object.hasOwn(this.strategies, strategy)) {
      throw badRequest(`Unknown strategy ${JSON.stringify(strategy)}: use one of ${this.names().join(', ')}`);
    }
    if (
      options !== undefined &&
      (typeof options !== 'object' || options === null || Array.isArray(options))
    ) {
      throw badRequest('options must be a JSON object');
    }
    if (stamping !== undefined && stamping !== false && !isStampingFields(stamping)) {
      throw badRequest('stamping must be false or {"field": name | false, "fields": name | false}');
    }
    return {
      strategy,
      ...(options === undefined ? {} : { options: options as Record<string, unknown> }),
      ...(stamping === undefined ? {} : { stamping: stamping as ResolverConfig['stamping'] }),
    };
  }
}

/**
 * Loads server resolver modules: each exports strategies by name, as named exports or as the
 * properties of its default export, e.g.
 * `export const longestText = { create: (options) => conflicts.custom('longest-text', fn) }`.
 */
export async function loadResolverModules(
  paths: readonly string[],
): Promise<Record<string, ResolverStrategy>> {
  const strategies: Record<string, ResolverStrategy> = {};
  for (const path of paths) {
    const module = (await import(pathToFileURL(resolvePath(path)).href)) as Record<string, unknown>;
    const exported =
      typeof module.default === 'object' && module.default !== null
        ? (module.default as Record<string, unknown>)
        : module;
    for (const [name, value] of Object.entries(exported)) {
      if (name === 'default') continue;
      if (!isStrategy(value))
        throw new Error(`${path}: export ${name} is not a resolver strategy ({ create })`);
      strategies[name] = value;
    }
  }
  return strategies;
}

function isStrategy(value: unknown): value is ResolverStrategy {
  return (
    typeof value === 'object' && value !== null && typeof (value as ResolverStrategy).create === 'function'
  );
}

function isStampingFields(value: unknown): boolean {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  return Object.entries(value).every(
    ([key, name]) => (key === 'field' || key === 'fields') && (name === false || typeof name === 'string'),
  );
}

function stringOption(options: Record<string, unknown>, key: string): string | undefined {
  const value = options[key];
  if (value !== undefined && typeof value !== 'string')
    throw new SetteeError('bad_request', `${key} must be a string`);
  return value;
}

function schemaOption(options: Record<string, unknown>): CrdtSchema {
  const { schema } = options;
  if (typeof schema !== 'object' || schema === null || Array.isArray(schema)) {
    throw new TypeError('schema must be an object of field → counter | set | register | append-only');
  }
  return schema as CrdtSchema;
}
