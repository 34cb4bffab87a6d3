/**
 * What a replication is asked to do: a `_replicate` body or a `_replicator` document, parsed
 * and checked (a bad one is a 400), and the fields that define it.
 */
import { canonicalJson } from '../../core/canonical-json.js';
import type { Seq } from '../../core/api.js';
import { badRequest } from '../../core/errors.js';
import type { Credentials } from '../../remote/index.js';
import { databaseUrlProblem, displayLocation, isUrl } from '../../remote/location.js';
import type { ReplicationIdentity } from '../../replication/replication-id.js';
import { validateDbName } from '../registry.js';

/** The database of persistent replication jobs. */
export const REPLICATOR_DB = '_replicator';

/** One side of a replication: a URL (with optional credentials) or a local database name. */
export interface Endpoint {
  url: string;
  auth?: Credentials;
}

/** What a `_replicate` body or a `_replicator` document asks for. */
export interface ReplicationSpec {
  source: Endpoint;
  target: Endpoint;
  continuous: boolean;
  create_target: boolean;
  doc_ids?: string[];
  selector?: Record<string, unknown>;
  /** A design filter on the source, `ddoc/name` or `_view` (with `view`), and its query params. */
  filter?: string;
  view?: string;
  query_params?: Record<string, unknown>;
  since_seq?: Seq;
  /** Only each document's winning revision (CouchDB 3.3's `winning_revs_only`). */
  winning_revs_only?: boolean;
}

/** The fields that define a replication: a job restarts only when one of them changes. */
const DEFINING_FIELDS = [
  'source',
  'target',
  'continuous',
  'create_target',
  'create_target_params',
  'doc_ids',
  'filter',
  'view',
  'query_params',
  'selector',
  'since_seq',
  'winning_revs_only',
  'use_checkpoints',
  'checkpoint_interval',
] as const;

/** The replication-defining fields of a body or document, as comparable text. */
export function definingKey(body: Record<string, unknown>): string {
  const picked: Record<string, unknown> = {};
  for (const field of DEFINING_FIELDS) if (body[field] !== undefined) picked[field] = body[field];
  return canonicalJson(picked);
}

/** Parses and checks a `_replicate` body or `_replicator` document; a bad one is a 400. */
export function parseReplicationSpec(body: Record<string, unknown>): ReplicationSpec {
  const source = parseEndpoint(body.source, 'source');
  const target = parseEndpoint(body.target, 'target');
  const filters = (['doc_ids', 'filter', 'selector'] as const).filter((f) => body[f] != null);
  if (filters.length > 1) throw badRequest('`doc_ids`, `filter`, `selector` are mutually exclusive');
  const spec: ReplicationSpec = {
    source,
    target,
    continuous: booleanField(body, 'continuous'),
    create_target: booleanField(body, 'create_target'),
  };
  if (booleanField(body, 'winning_revs_only')) spec.winning_revs_only = true;
  if (body.doc_ids != null) spec.doc_ids = parseDocIds(body.doc_ids);
  if (body.selector != null) {
    const selector = body.selector;
    if (typeof selector !== 'object' || Array.isArray(selector))
      throw badRequest('`selector` must be an object');
    spec.selector = selector as Record<string, unknown>;
  }
  if (body.filter != null) Object.assign(spec, parseFilter(body));
  if (body.since_seq != null) {
    if (typeof body.since_seq !== 'number' && typeof body.since_seq !== 'string') {
      throw badRequest('`since_seq` must be a sequence (a number or a string)');
    }
    spec.since_seq = body.since_seq;
  }
  return spec;
}

/**
 * `filter` with its `query_params`; for `_view`, the view is `view` (PouchDB's field) or
 * `query_params.view` (where CouchDB's replicator reads it, couch_replicator_filters:view_type).
 */
function parseFilter(
  body: Record<string, unknown>,
): Pick<ReplicationSpec, 'filter' | 'view' | 'query_params'> {
  const { filter, query_params } = body;
  if (typeof filter !== 'string' || !/^(_view|[^/]+\/.+)$/.test(filter)) {
    throw badRequest('Invalid filter. Must match `ddocname/filtername`.');
  }
  if (query_params != null && (typeof query_params !== 'object' || Array.isArray(query_params))) {
    throw badRequest('`query_params` must be an object');
  }
  const params = (query_params ?? undefined) as Record<string, unknown> | undefined;
  const view = body.view ?? params?.view;
  if (filter === '_view' && (typeof view !== 'string' || !/^[^/]+\/[^/]+$/.test(view))) {
    throw badRequest('Invalid `view` parameter.');
  }
  return {
    filter,
    ...(filter === '_view' ? { view: view as string } : {}),
    ...(params ? { query_params: params } : {}),
  };
}

/**
 * A boolean field, false when absent; anything else than a boolean is a 400 with CouchDB's
 * reason (couch_replicator_parse:convert_options).
 */
function booleanField(
  body: Record<string, unknown>,
  field: 'continuous' | 'create_target' | 'winning_revs_only',
): boolean {
  const value = body[field];
  if (value === undefined) return false;
  if (typeof value !== 'boolean') throw badRequest(`parameter \`${field}\` must be a boolean`);
  return value;
}

function parseDocIds(ids: unknown): string[] {
  if (!Array.isArray(ids) || !ids.every((id) => typeof id === 'string' && id !== '')) {
    throw badRequest('`doc_ids` must be an array of document ids');
  }
  return ids;
}

/** The messages of a URL that names no usable remote database, by what is wrong with it. */
const URL_PROBLEMS = {
  invalid_url: (field: string, url: string) => `\`${field}\` is not a valid URL: ${displayLocation(url)}`,
  unsupported_scheme: (field: string) => `\`${field}\`: only http and https URLs are supported`,
  no_database: (field: string, url: string) => `\`${field}\` names no database: ${displayLocation(url)}`,
};

function parseEndpoint(value: unknown, field: string): Endpoint {
  let endpoint: Endpoint | undefined;
  if (typeof value === 'string' && value !== '') endpoint = { url: value };
  else if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
    const { url, auth, headers } = value as { url?: unknown; auth?: unknown; headers?: unknown };
    if (typeof url === 'string' && url !== '') {
      const credentials = basicAuthOf(auth) ?? basicHeaderOf(headers);
      endpoint = { url, ...(credentials ? { auth: credentials } : {}) };
    }
  }
  if (!endpoint) throw badRequest(`\`${field}\` must be a database URL or an object with a \`url\``);
  if (isUrl(endpoint.url)) {
    const problem = databaseUrlProblem(endpoint.url);
    if (problem) throw badRequest(URL_PROBLEMS[problem](field, endpoint.url));
  } else validateDbName(endpoint.url);
  return endpoint;
}

function basicAuthOf(auth: unknown): Credentials | undefined {
  const basic = (auth as { basic?: { username?: unknown; password?: unknown } } | null)?.basic;
  if (typeof basic?.username !== 'string' || typeof basic.password !== 'string') return undefined;
  return { username: basic.username, password: basic.password };
}

function basicHeaderOf(headers: unknown): Credentials | undefined {
  if (typeof headers !== 'object' || headers === null) return undefined;
  const entry = Object.entries(headers).find(([name]) => name.toLowerCase() === 'authorization');
  const match = typeof entry?.[1] === 'string' ? /^Basic\s+(\S+)$/i.exec(entry[1]) : null;
  if (!match) return undefined;
  const decoded = Buffer.from(match[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  return colon < 0 ? undefined : { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

/** An endpoint as listings show it (no credentials), from a spec's or a raw document's field. */
export function endpointLabel(value: unknown): string | null {
  if (typeof value === 'string') return displayLocation(value);
  const url = (value as { url?: unknown } | null)?.url;
  return typeof url === 'string' ? displayLocation(url) : null;
}

/** The parameters of a spec that enter its replication id (besides the two peers). */
export function identityOf(spec: ReplicationSpec): ReplicationIdentity {
  return {
    ...(spec.doc_ids ? { doc_ids: spec.doc_ids } : {}),
    ...(spec.selector ? { selector: spec.selector } : {}),
    ...filterOf(spec),
    ...(spec.winning_revs_only ? { winning_revs_only: true } : {}),
  };
}

/** A spec's design filter as replication options (none without a filter). */
function filterOf(spec: ReplicationSpec): Pick<ReplicationIdentity, 'filter' | 'view' | 'query_params'> {
  if (spec.filter === undefined) return {};
  return {
    filter: spec.filter,
    ...(spec.view !== undefined ? { view: spec.view } : {}),
    ...(spec.query_params ? { query_params: spec.query_params } : {}),
  };
}

/** The job's id: the base id, `+continuous` and `+create_target` when set (CouchDB's form). */
export function fullId(localId: string, spec: ReplicationSpec): string {
  const base = localId.replace(/^_local\//, '');
  return base + (spec.continuous ? '+continuous' : '') + (spec.create_target ? '+create_target' : '');
}
