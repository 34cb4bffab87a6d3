/**
 * Every route of the permissions table, called by every kind of identity: what the table says
 * each may do is what the server does. The same table is docs/security.md's permissions section.
 */
import fs from 'node:fs';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  IDENTITIES,
  type Identity,
  OUTCOMES,
  permissionsMarkdown,
  ROUTES,
  routePattern,
} from '../../src/server/permissions.js';
import {
  databaseDocEndpoints,
  databaseEndpoints,
  databaseMethods,
} from '../../src/server/routes/databases.js';
import { attachmentMethods, documentMethods, localMethods } from '../../src/server/routes/documents.js';
import { nodeMethods } from '../../src/server/routes/node.js';
import { QUERY_ENDPOINTS, queryEndpoint } from '../../src/server/routes/queries.js';
import { schedulerMethods } from '../../src/server/routes/replication.js';
import { rootMethods, serverEndpoints } from '../../src/server/routes/server.js';
import { UNIMPLEMENTED_ROUTES } from '../../src/server/routes/unimplemented.js';
import { viewEndpoint } from '../../src/server/routes/views.js';
import { resolveTarget } from '../../src/server/router.js';
import { BASIC, startServer, type TestServer } from './harness.js';

const JWT_SECRET = 'a test secret of enough length for HS256';
const PASSWORD = 'pw';
const DB = 'shared';

interface Example {
  path: string;
  body?: unknown;
  /** Raw bytes with their type, instead of JSON. */
  raw?: { data: string; type: string };
  /** Puts back what the request may have changed that later requests need. */
  after?: () => Promise<void>;
}

let t: TestServer;
let counter = 0;
const headersOf: Partial<Record<Identity, Record<string, string>>> = {};
const fresh = (prefix: string) => `${prefix}${++counter}`;

async function admin(method: string, path: string, body?: unknown): Promise<Record<string, unknown>> {
  const res = await t.fetch(path, { method, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
  const json = (await res.json()) as Record<string, unknown>;
  if (res.status >= 400) throw new Error(`${method} ${path} → ${res.status} ${JSON.stringify(json)}`);
  return json;
}

/** Creates the user again if a request deleted them. */
async function keepUser(name: string): Promise<void> {
  const res = await fetch(`${t.url}/_users/org.couchdb.user:${name}`, { headers: { authorization: BASIC } });
  await res.body?.cancel();
  if (res.status === 404) await createUser(name);
}

async function createUser(name: string): Promise<void> {
  await admin('PUT', `/_users/org.couchdb.user:${name}`, {
    name,
    type: 'user',
    roles: [],
    password: PASSWORD,
  });
}

/** A document of the shared database, with an attachment. */
async function freshDoc(prefix = 'doc'): Promise<{ id: string; rev: string }> {
  const id = fresh(prefix);
  const { rev } = await admin('PUT', `/${DB}/${id}`, {
    _attachments: { 'a.txt': { content_type: 'text/plain', data: Buffer.from('hi').toString('base64') } },
  });
  return { id, rev: rev as string };
}

async function memberJob(): Promise<{ id: string; rev: string }> {
  const id = fresh('job');
  // An invalid job (no target): it fails at once and does nothing.
  const { rev } = await admin('PUT', `/_replicator/${id}`, { source: 'open', owner: 'member' });
  return { id, rev: rev as string };
}

/** A Mango index of the shared database, in a design document of its own. */
async function freshIndex(): Promise<{ ddoc: string; name: string }> {
  const name = fresh('index');
  await admin('POST', `/${DB}/_index`, { index: { fields: [name] }, ddoc: name, name });
  return { ddoc: name, name };
}

/** A design document of the shared database with a view `v`. */
async function freshView(): Promise<string> {
  const ddoc = fresh('views');
  await admin('PUT', `/${DB}/_design/${ddoc}`, {
    views: { v: { map: 'function (doc) { emit(doc._id); }' } },
  });
  return `/${DB}/_design/${ddoc}`;
}

async function current(path: string): Promise<Record<string, unknown>> {
  return admin('GET', path);
}

/** One concrete request per route and method of the table, set up afresh for each identity. */
const EXAMPLES: Record<string, () => Promise<Example>> = {
  'GET /': async () => ({ path: '/' }),
  'GET /_up': async () => ({ path: '/_up' }),
  'GET /_uuids': async () => ({ path: '/_uuids' }),
  'GET /_session': async () => ({ path: '/_session' }),
  'POST /_session': async () => ({ path: '/_session', body: { name: 'member', password: PASSWORD } }),
  'DELETE /_session': async () => ({ path: '/_session' }),
  'GET /_all_dbs': async () => ({ path: '/_all_dbs' }),
  'GET /_my_dbs': async () => ({ path: '/_my_dbs' }),
  'GET /_dbs_info': async () => ({ path: '/_dbs_info?limit=1' }),
  'POST /_dbs_info': async () => ({ path: '/_dbs_info', body: { keys: [DB] } }),
  'POST /_replicate': async () => ({ path: '/_replicate', body: { source: 'open', target: 'open' } }),
  'GET /_active_tasks': async () => ({ path: '/_active_tasks' }),
  'GET /_scheduler/jobs': async () => ({ path: '/_scheduler/jobs' }),
  'GET /_scheduler/jobs/{id}': async () => ({ path: '/_scheduler/jobs/nothing' }),
  'GET /_node/_local/_config': async () => ({ path: '/_node/_local/_config' }),
  'GET /_node/_local/_config/{section}': async () => ({ path: '/_node/_local/_config/httpd' }),
  'GET /_node/_local/_config/{section}/{key}': async () => ({ path: '/_node/_local/_config/httpd/port' }),
  'PUT /_node/_local/_config/{section}/{key}': async () => ({
    path: '/_node/_local/_config/httpd/port',
    body: '8080',
  }),
  'DELETE /_node/_local/_config/{section}/{key}': async () => ({ path: '/_node/_local/_config/httpd/port' }),
  'GET /_node/_local/_stats': async () => ({ path: '/_node/_local/_stats' }),
  'GET /_node/_local/_stats/…': async () => ({ path: '/_node/_local/_stats/couchdb/open_databases' }),
  'GET /_node/_local/_prometheus': async () => ({ path: '/_node/_local/_prometheus' }),
  'GET /_node/_local/_system': async () => ({ path: '/_node/_local/_system' }),
  'GET /_node/_local/_logs': async () => ({ path: '/_node/_local/_logs?level=error&limit=5' }),
  'GET /_scheduler/docs': async () => ({ path: '/_scheduler/docs' }),
  'GET /_scheduler/docs/{replicator}': async () => ({ path: '/_scheduler/docs/_replicator' }),
  'GET /_scheduler/docs/{replicator}/{docid}': async () => ({ path: '/_scheduler/docs/_replicator/nothing' }),
  'PUT /{db}': async () => ({ path: `/${fresh('new-db-')}` }),
  'DELETE /{db}': async () => {
    const name = fresh('doomed-');
    await admin('PUT', `/${name}`);
    await admin('PUT', `/${name}/_security`, await current(`/${DB}/_security`));
    return { path: `/${name}` };
  },
  'GET /{db}': async () => ({ path: `/${DB}` }),
  'HEAD /{db}': async () => ({ path: `/${DB}` }),
  'POST /{db}': async () => ({ path: `/${DB}`, body: { posted: true } }),
  'GET /{db}/_all_docs': async () => ({ path: `/${DB}/_all_docs` }),
  'POST /{db}/_all_docs': async () => ({ path: `/${DB}/_all_docs`, body: { keys: ['x'] } }),
  'GET /{db}/_local_docs': async () => ({ path: `/${DB}/_local_docs` }),
  'POST /{db}/_local_docs': async () => ({ path: `/${DB}/_local_docs`, body: { keys: ['_local/x'] } }),
  'GET /{db}/_changes': async () => ({ path: `/${DB}/_changes` }),
  'POST /{db}/_changes': async () => ({ path: `/${DB}/_changes`, body: {} }),
  'POST /{db}/_bulk_docs': async () => ({ path: `/${DB}/_bulk_docs`, body: { docs: [{ bulk: true }] } }),
  'POST /{db}/_bulk_get': async () => ({ path: `/${DB}/_bulk_get`, body: { docs: [{ id: 'x' }] } }),
  'POST /{db}/_revs_diff': async () => ({ path: `/${DB}/_revs_diff`, body: { x: ['1-a'] } }),
  'POST /{db}/_missing_revs': async () => ({ path: `/${DB}/_missing_revs`, body: { x: ['1-a'] } }),
  'POST /{db}/_ensure_full_commit': async () => ({ path: `/${DB}/_ensure_full_commit`, body: {} }),
  'GET /{db}/_security': async () => ({ path: `/${DB}/_security` }),
  'PUT /{db}/_security': async () => ({ path: `/${DB}/_security`, body: await current(`/${DB}/_security`) }),
  'GET /{db}/_revs_limit': async () => ({ path: `/${DB}/_revs_limit` }),
  'PUT /{db}/_revs_limit': async () => ({ path: `/${DB}/_revs_limit`, body: 1000 }),
  'POST /{db}/_compact': async () => ({ path: `/${DB}/_compact`, body: {} }),
  'GET /{db}/_conflicts': async () => ({ path: `/${DB}/_conflicts` }),
  'GET /{db}/_resolutions': async () => ({ path: `/${DB}/_resolutions` }),
  'GET /{db}/_resolve': async () => ({ path: `/${DB}/_resolve` }),
  'POST /{db}/_resolve': async () => ({
    path: `/${DB}/_resolve`,
    body: { strategy: 'couchdb', ids: [(await freshDoc()).id] },
  }),
  'GET /{db}/_resolve/{docid}': async () => ({ path: `/${DB}/_resolve/${(await freshDoc()).id}` }),
  'POST /{db}/_resolve/{docid}': async () => ({ path: `/${DB}/_resolve/${(await freshDoc()).id}`, body: {} }),
  'GET /{db}/_resolver': async () => ({ path: `/${DB}/_resolver` }),
  'PUT /{db}/_resolver': async () => ({ path: `/${DB}/_resolver`, body: { strategy: 'couchdb' } }),
  'DELETE /{db}/_resolver': async () => ({ path: `/${DB}/_resolver` }),
  'POST /{db}/_find': async () => ({ path: `/${DB}/_find`, body: { selector: {} } }),
  'POST /{db}/_explain': async () => ({ path: `/${DB}/_explain`, body: { selector: {} } }),
  'GET /{db}/_index': async () => ({ path: `/${DB}/_index` }),
  'POST /{db}/_index': async () => ({ path: `/${DB}/_index`, body: { index: { fields: [fresh('field')] } } }),
  'DELETE /{db}/_index/{ddoc}/json/{name}': async () => {
    const { ddoc, name } = await freshIndex();
    return { path: `/${DB}/_index/${ddoc}/json/${name}` };
  },
  'POST /{db}/_index/_bulk_delete': async () => ({
    path: `/${DB}/_index/_bulk_delete`,
    body: { docids: [(await freshIndex()).ddoc] },
  }),
  'GET /{db}/_design_docs': async () => ({ path: `/${DB}/_design_docs` }),
  'POST /{db}/_design_docs': async () => ({ path: `/${DB}/_design_docs`, body: { keys: ['_design/x'] } }),
  'POST /{db}/_view_cleanup': async () => ({ path: `/${DB}/_view_cleanup`, body: {} }),
  'GET /{db}/_design/{ddoc}/_view/{view}': async () => ({ path: `${await freshView()}/_view/v` }),
  'POST /{db}/_design/{ddoc}/_view/{view}': async () => ({
    path: `${await freshView()}/_view/v`,
    body: { keys: ['x'] },
  }),
  'POST /{db}/_design/{ddoc}/_view/{view}/queries': async () => ({
    path: `${await freshView()}/_view/v/queries`,
    body: { queries: [{ limit: 1 }] },
  }),
  'GET /{db}/_design/{ddoc}/_info': async () => ({ path: `${await freshView()}/_info` }),
  'GET /{db}/{docid}': async () => ({ path: `/${DB}/${(await freshDoc()).id}` }),
  'HEAD /{db}/{docid}': async () => ({ path: `/${DB}/${(await freshDoc()).id}` }),
  'PUT /{db}/{docid}': async () => ({ path: `/${DB}/${fresh('put')}`, body: { put: true } }),
  'DELETE /{db}/{docid}': async () => {
    const { id, rev } = await freshDoc();
    return { path: `/${DB}/${id}?rev=${rev}` };
  },
  'GET /{db}/{docid}/{attachment}': async () => ({ path: `/${DB}/${(await freshDoc()).id}/a.txt` }),
  'HEAD /{db}/{docid}/{attachment}': async () => ({ path: `/${DB}/${(await freshDoc()).id}/a.txt` }),
  'PUT /{db}/{docid}/{attachment}': async () => {
    const { id, rev } = await freshDoc();
    return { path: `/${DB}/${id}/b.txt?rev=${rev}`, raw: { data: 'bytes', type: 'text/plain' } };
  },
  'DELETE /{db}/{docid}/{attachment}': async () => {
    const { id, rev } = await freshDoc();
    return { path: `/${DB}/${id}/a.txt?rev=${rev}` };
  },
  'GET /{db}/_local/{docid}': async () => {
    const id = fresh('local');
    await admin('PUT', `/${DB}/_local/${id}`, { here: true });
    return { path: `/${DB}/_local/${id}` };
  },
  'PUT /{db}/_local/{docid}': async () => ({ path: `/${DB}/_local/${fresh('local')}`, body: { here: true } }),
  'DELETE /{db}/_local/{docid}': async () => {
    const id = fresh('local');
    await admin('PUT', `/${DB}/_local/${id}`, { here: true });
    return { path: `/${DB}/_local/${id}` };
  },
  'GET /{db}/_design/{ddoc}': async () => ({ path: `/${DB}/${(await freshDoc('_design/d')).id}` }),
  'HEAD /{db}/_design/{ddoc}': async () => ({ path: `/${DB}/${(await freshDoc('_design/d')).id}` }),
  'PUT /{db}/_design/{ddoc}': async () => ({ path: `/${DB}/_design/${fresh('new')}`, body: { views: {} } }),
  'DELETE /{db}/_design/{ddoc}': async () => {
    const { id, rev } = await freshDoc('_design/d');
    return { path: `/${DB}/${id}?rev=${rev}` };
  },
  'GET /{db}/_design/{ddoc}/{attachment}': async () => ({
    path: `/${DB}/${(await freshDoc('_design/d')).id}/a.txt`,
  }),
  'HEAD /{db}/_design/{ddoc}/{attachment}': async () => ({
    path: `/${DB}/${(await freshDoc('_design/d')).id}/a.txt`,
  }),
  'PUT /{db}/_design/{ddoc}/{attachment}': async () => {
    const { id, rev } = await freshDoc('_design/d');
    return { path: `/${DB}/${id}/b.txt?rev=${rev}`, raw: { data: 'bytes', type: 'text/plain' } };
  },
  'DELETE /{db}/_design/{ddoc}/{attachment}': async () => {
    const { id, rev } = await freshDoc('_design/d');
    return { path: `/${DB}/${id}/a.txt?rev=${rev}` };
  },
  'GET /_users/org.couchdb.user:{name}': async () => ({ path: '/_users/org.couchdb.user:member' }),
  'HEAD /_users/org.couchdb.user:{name}': async () => ({ path: '/_users/org.couchdb.user:member' }),
  'PUT /_users/org.couchdb.user:{name}': async () => ({
    path: '/_users/org.couchdb.user:member',
    body: { ...(await current('/_users/org.couchdb.user:member')), password: PASSWORD },
  }),
  'DELETE /_users/org.couchdb.user:{name}': async () => {
    const { _rev } = await current('/_users/org.couchdb.user:member');
    // Deleted by the member themselves or a server admin: the member is needed again after.
    return { path: `/_users/org.couchdb.user:member?rev=${String(_rev)}`, after: () => keepUser('member') };
  },
  'GET /_users/…': async () => ({ path: '/_users/_all_docs' }),
  'HEAD /_users/…': async () => ({ path: '/_users' }),
  'PUT /_users/…': async () => ({ path: `/_users/_local/${fresh('x')}`, body: {} }),
  'POST /_users/…': async () => ({ path: '/_users/_bulk_docs', body: { docs: [] } }),
  'DELETE /_users/…': async () => ({ path: `/_users/_local/${fresh('x')}` }),
  'GET /_replicator/{docid}': async () => ({ path: `/_replicator/${(await memberJob()).id}` }),
  'HEAD /_replicator/{docid}': async () => ({ path: `/_replicator/${(await memberJob()).id}` }),
  'PUT /_replicator/{docid}': async () => {
    const { id } = await memberJob();
    return { path: `/_replicator/${id}`, body: await current(`/_replicator/${id}`) };
  },
  'DELETE /_replicator/{docid}': async () => {
    const { id } = await memberJob();
    return { path: `/_replicator/${id}?rev=${String((await current(`/_replicator/${id}`))._rev)}` };
  },
  'GET /_replicator/…': async () => ({ path: '/_replicator/_all_docs' }),
  'HEAD /_replicator/…': async () => ({ path: '/_replicator' }),
  'PUT /_replicator/…': async () => ({ path: `/_replicator/_local/${fresh('x')}`, body: {} }),
  'POST /_replicator/…': async () => ({ path: '/_replicator/_bulk_docs', body: { docs: [] } }),
  'DELETE /_replicator/…': async () => ({ path: `/_replicator/_local/${fresh('x')}` }),
};

/** The endpoints Settee answers with 501 once access is granted: one example each. */
const UNIMPLEMENTED_EXAMPLES = new Map<string, () => Promise<Example>>(
  UNIMPLEMENTED_ROUTES.flatMap(({ methods, path }) =>
    methods.split(' ').map((method) => {
      const concrete = path
        .replace('{db}', DB)
        .replace('{ddoc}', 'd')
        .replace('{view}', 'v')
        .replace('/…', '/x');
      const example = async (): Promise<Example> => ({
        path: concrete,
        ...(method === 'GET' || method === 'DELETE' ? {} : { body: {} }),
      });
      return [`${method} ${path}`, example];
    }),
  ),
);
Object.assign(EXAMPLES, Object.fromEntries(UNIMPLEMENTED_EXAMPLES));

const CASES = ROUTES.flatMap(({ methods, path, access }) =>
  methods.map((method) => ({ key: `${method} ${path}`, method, access })),
);

beforeAll(async () => {
  t = await startServer({ jwt: { hmacSecrets: { _default: JWT_SECRET } } });
  for (const name of ['member', 'dbadmin', 'outsider']) await createUser(name);
  await admin('PUT', `/${DB}`);
  await admin('PUT', `/${DB}/_security`, {
    admins: { names: ['dbadmin'], roles: [] },
    members: { names: ['member'], roles: ['jwt-role'] },
  });
  await admin('PUT', '/open');
  await admin('PUT', '/open/_security', {
    admins: { names: [], roles: [] },
    members: { names: [], roles: [] },
  });
  const token = await new SignJWT({ '_couchdb.roles': ['jwt-role'] })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject('jwtuser')
    .setExpirationTime('1h')
    .sign(new TextEncoder().encode(JWT_SECRET));
  const basic = (name: string) => `Basic ${Buffer.from(`${name}:${PASSWORD}`).toString('base64')}`;
  Object.assign(headersOf, {
    anonymous: {},
    non_member: { authorization: basic('outsider') },
    member: { authorization: basic('member') },
    db_admin: { authorization: basic('dbadmin') },
    server_admin: { authorization: BASIC },
    jwt_member: { authorization: `Bearer ${token}` },
  });
});

afterAll(async () => {
  await t?.stop();
});

/**
 * Every handler the server dispatches to (app.ts, `dispatch`), by a concrete path of it: the
 * handler maps are read as they are, so a handler added without a row of the table shows here
 * (the table's fallback would otherwise give it a default access, untested).
 */
function handlerPaths(): [string, object | undefined][] {
  const under = (prefix: string, maps: Record<string, object>) =>
    Object.entries(maps).map(([name, methods]): [string, object] => [`${prefix}${name}`, methods]);
  const node = ['_config', '_config/httpd', '_config/httpd/port', '_stats', '_stats/couchdb/x'];
  return [
    ['/', rootMethods],
    ...under('/', serverEndpoints),
    ...[...node, '_prometheus', '_system', '_logs'].map((name): [string, object | undefined] => [
      `/_node/_local/${name}`,
      nodeMethods(`_node/_local/${name}`),
    ]),
    ...['jobs/x', 'docs/_replicator', 'docs/_replicator/x'].map((name): [string, object | undefined] => [
      `/_scheduler/${name}`,
      schedulerMethods(`_scheduler/${name}`),
    ]),
    ['/shop', databaseMethods],
    ...under('/shop/', databaseEndpoints),
    ...under('/shop/', QUERY_ENDPOINTS),
    ['/shop/_index/d/json/n', queryEndpoint('_index/d/json/n')],
    ...Object.entries(databaseDocEndpoints).map(([name, methods]): [string, object] => [
      `/shop/${name}/doc`,
      methods,
    ]),
    ...['_view/v', '_view/v/queries', '_info'].map((name): [string, object | undefined] => [
      `/shop/_design/d/${name}`,
      viewEndpoint(`_design/d/${name}`),
    ]),
    ...['/shop/doc', '/shop/_design/d', '/_users/org.couchdb.user:x', '/_replicator/job'].map(
      (path): [string, object] => [path, documentMethods],
    ),
    ['/shop/doc/a.txt', attachmentMethods],
    ['/shop/_design/d/a.txt', attachmentMethods],
    ['/shop/_local/x', localMethods],
  ];
}

describe('the permissions table', () => {
  it('has a row for every handler of the server and each of its methods', () => {
    const missing = handlerPaths().flatMap(([path, methods]) => {
      if (methods === undefined) return [`${path}: no handler`];
      const pattern = routePattern(resolveTarget(path));
      return Object.keys(methods)
        .filter((method) => !ROUTES.some((row) => row.path === pattern && row.methods.includes(method)))
        .map((method) => `${method} ${path} (${pattern})`);
    });
    expect(missing).toEqual([]);
  });

  it('has an example request for every route and method', () => {
    expect(CASES.map(({ key }) => key).filter((key) => !EXAMPLES[key])).toEqual([]);
    expect(Object.keys(EXAMPLES).filter((key) => !CASES.some((c) => c.key === key))).toEqual([]);
  });

  it('is the permissions section of docs/security.md', () => {
    expect(fs.readFileSync(new URL('../../docs/security.md', import.meta.url), 'utf8')).toContain(
      permissionsMarkdown(),
    );
  });

  it.each(CASES)('$key: $access', async ({ key, method, access }) => {
    for (const identity of IDENTITIES) {
      const example = await EXAMPLES[key]!();
      const headers: Record<string, string> = { ...headersOf[identity] };
      let body: string | undefined;
      if (example.raw) {
        headers['content-type'] = example.raw.type;
        body = example.raw.data;
      } else if (example.body !== undefined) {
        headers['content-type'] = 'application/json';
        body = JSON.stringify(example.body);
      }
      const res = await fetch(t.url + example.path, {
        method,
        headers,
        ...(body === undefined ? {} : { body }),
      });
      const text = await res.text();
      await example.after?.();
      const expected = OUTCOMES[access][identity];
      const label = `${identity}: ${method} ${example.path} → ${res.status} ${text.slice(0, 200)}`;
      if (expected === 'ok' && UNIMPLEMENTED_EXAMPLES.has(key)) {
        expect(res.status, label).toBe(501);
      } else if (expected === 'ok') {
        expect(res.status, label).toBeLessThan(500);
        expect([401, 403], label).not.toContain(res.status);
      } else {
        expect(res.status, label).toBe(expected);
        if (method !== 'HEAD') {
          expect(JSON.parse(text).error, label).toBe(expected === 401 ? 'unauthorized' : 'forbidden');
        }
      }
    }
  });
});
