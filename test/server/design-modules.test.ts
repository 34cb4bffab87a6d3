/**
 * CommonJS modules of design documents over real HTTP: a `validate_doc_update` that requires
 * `lib/…` and refuses a write (403 from the module's throw), a missing module's error and a
 * module that loops forever (500 `unknown_error`, as any failing validation), a `_changes`
 * filter that requires a module, and a view whose map requires `views/lib/…`, rebuilt when
 * `views.lib` changes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BASIC, startServer, type TestServer } from './harness.js';
import { callJson } from './http-client.js';

const TIMEOUT_MS = 300;
let t: TestServer;
let count = 0;

beforeAll(async () => {
  t = await startServer({ validation: { timeoutMs: TIMEOUT_MS } });
});
afterAll(async () => {
  await t.stop();
});

const admin = (method: string, path: string, body?: unknown) => callJson(t.url, BASIC, method, path, body);

async function createDb(): Promise<string> {
  const name = `modules${++count}`;
  expect((await admin('PUT', `/${name}`)).status).toBe(201);
  return name;
}

async function withDesign(db: string, ddoc: Record<string, unknown>): Promise<string> {
  const res = await admin('PUT', `/${db}/${String(ddoc._id)}`, ddoc);
  expect(res.status, JSON.stringify(res.json)).toBe(201);
  return res.json.rev as string;
}

const RULES = {
  _id: '_design/rules',
  lib: {
    totals: `var limits = require('./limits');
      exports.check = function (doc) {
        if (doc.total < limits.min) throw({ forbidden: 'total must be at least ' + limits.min });
      };`,
    limits: 'exports.min = 0;',
    hang: 'while (true) {}',
  },
  validate_doc_update: "function (newDoc) { require('lib/totals').check(newDoc); }",
};

describe('validate_doc_update with modules', () => {
  it('refuses a write with what the required module throws, and accepts the rest', async () => {
    const db = await createDb();
    await withDesign(db, RULES);
    expect(await admin('PUT', `/${db}/sale`, { total: -5 })).toEqual({
      status: 403,
      json: { error: 'forbidden', reason: 'total must be at least 0' },
    });
    expect((await admin('PUT', `/${db}/sale`, { total: 5 })).status).toBe(201);
  });

  it('answers a missing module as a failed validation, naming the path', async () => {
    const db = await createDb();
    await withDesign(db, { ...RULES, validate_doc_update: "function () { require('lib/nope'); }" });
    const res = await admin('PUT', `/${db}/sale`, { total: 5 });
    expect(res.status).toBe(500);
    expect(res.json).toEqual({
      error: 'unknown_error',
      reason: expect.stringContaining(
        'validate_doc_update in _design/rules failed: invalid_require_path: require("lib/nope"): ' +
          'Object has no property "nope"',
      ),
    });
  });

  it('times out a module that loops forever as it would the function, and goes on', async () => {
    const db = await createDb();
    await withDesign(db, {
      ...RULES,
      validate_doc_update: "function (newDoc) { if (newDoc.hang) require('lib/hang'); }",
    });
    expect(await admin('PUT', `/${db}/stuck`, { hang: true })).toEqual({
      status: 500,
      json: {
        error: 'unknown_error',
        reason: `validate_doc_update in _design/rules timed out after ${TIMEOUT_MS} ms`,
      },
    });
    expect((await admin('PUT', `/${db}/fine`, {})).status).toBe(201);
  });
});

describe('filters and views with modules', () => {
  const APP = {
    _id: '_design/app',
    lib: { types: 'exports.is = function (doc, type) { return doc.type === type; };' },
    filters: { typed: "function (doc, req) { return require('lib/types').is(doc, req.query.type); }" },
    views: {
      lib: { keys: 'exports.key = function (doc) { return doc.type.toUpperCase(); };' },
      by_type: { map: "function (doc) { if (doc.type) emit(require('views/lib/keys').key(doc), 1); }" },
    },
  };

  async function dbWithApp(): Promise<{ db: string; rev: string }> {
    const db = await createDb();
    const rev = await withDesign(db, APP);
    const docs = [
      { _id: 'a', type: 'sale' },
      { _id: 'b', type: 'refund' },
    ];
    expect((await admin('POST', `/${db}/_bulk_docs`, { docs })).status).toBe(201);
    return { db, rev };
  }

  it('runs a _changes filter that requires a module', async () => {
    const { db } = await dbWithApp();
    const res = await admin('GET', `/${db}/_changes?filter=app/typed&type=refund`);
    expect(res.status).toBe(200);
    expect((res.json.results as { id: string }[]).map((row) => row.id)).toEqual(['b']);
  });

  it('serves a view whose map requires views/lib/…, rebuilt when views.lib changes', async () => {
    const { db, rev } = await dbWithApp();
    const keys = async () => {
      const res = await admin('GET', `/${db}/_design/app/_view/by_type`);
      expect(res.status, JSON.stringify(res.json)).toBe(200);
      return (res.json.rows as { key: string }[]).map((row) => row.key);
    };
    expect(await keys()).toEqual(['REFUND', 'SALE']);
    const lib = { keys: 'exports.key = function (doc) { return "t:" + doc.type; };' };
    await withDesign(db, { ...APP, _rev: rev, views: { ...APP.views, lib } });
    expect(await keys()).toEqual(['t:refund', 't:sale']);
  });
});
