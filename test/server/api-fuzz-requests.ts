/**
 * Generators of hostile HTTP requests for test/server/api-fuzz.test.ts: every route of the
 * server (src/server/routes/*, src/server/permissions.ts `ROUTES`), each with methods, paths,
 * query parameters, headers and bodies that are mostly of the route's own shape and often not:
 * wrong types, absurd numbers, invalid or deeply nested JSON, lone surrogates, `__proto__` keys,
 * odd ids, multipart bodies that lie about their boundaries.
 *
 * What they never do: name the control database (the test checks it is untouched), delete a
 * seeded database, start a continuous replication, point a replication anywhere but this
 * server, or open a feed that waits unbounded (a longpoll with heartbeats waits for a change).
 */
import fc from 'fast-check';
import { BASIC } from './harness.js';

/** A request as sent: the path byte for byte (already percent-encoded, or deliberately not). */
export interface FuzzRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: string | Buffer;
}

/** Fuzzed databases the test seeds; `fuzz-a` has the member, `fuzz-b` does not. */
export const SEEDED = ['fuzz-a', 'fuzz-b'];
/** The one ordinary user, a member of `fuzz-a`: no generated user document names them. */
export const MEMBER = { name: 'fuzz-member', password: 'member-secret' };

interface Body {
  headers: Record<string, string>;
  body?: string | Buffer;
}

/** `words('a b c')`: a list of tokens written on one line (none holds a space: paths are encoded). */
const words = (text: string) => text.split(' ');
const oneOfWords = (text: string) => fc.constantFrom(...words(text));

/** Names every plain object inherits: a lookup table indexed by input must not find them. */
const PROTOTYPE_NAMES = words('__proto__ constructor toString hasOwnProperty valueOf');

// --- values ------------------------------------------------------------------------------------

/** Percent-encodes as a client would (a lone surrogate becomes U+FFFD on the way). */
export const encode = (text: string) =>
  [...Buffer.from(text, 'utf8')]
    .map((byte) => {
      const char = String.fromCharCode(byte);
      return /[A-Za-z0-9\-_.~]/.test(char) ? char : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
    })
    .join('');

const oddChar = fc.oneof(
  { weight: 4, arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }) },
  fc.constantFrom('\ud800', '\udc00', '\u0000', '\ufeff', '\u2028', '\uffff', '"', '\\', '/', '%'),
);
const oddString = fc.oneof(
  { weight: 4, arbitrary: fc.string({ unit: oddChar, maxLength: 12 }) },
  fc.constantFrom('', '_design/', '_local/', '..', '%2F', '1-abc', '0-', '-1', '1e3', 'true', '{}', '$gt'),
  // Large, within a bound the test can afford.
  { weight: 1, arbitrary: fc.nat({ max: 300_000 }).map((n) => 'x'.repeat(n)) },
);
const oddNumber = fc.oneof(
  fc.integer(),
  fc.double({ noNaN: true }),
  fc.constantFrom(-1, 0, -0, 1.5, 2 ** 53 + 2, 1e308, -1e308, 99_999_999_999),
);
const oddKey = fc.oneof(
  oddString,
  fc.constantFrom(...PROTOTYPE_NAMES, 'prototype', '_id', '_rev', '$gt', '$or', '$not', '$and', 'a', 'x'),
);
/** A count a client would send (`limit`, `skip`, `group_level`); `shaped` adds the odd ones. */
const count = fc.nat({ max: 20 });
const leaf = fc.oneof(oddString, oddNumber, fc.boolean(), fc.constant(null));
/** Any JSON value, a few levels deep, of odd content. */
const hostile: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 3, arbitrary: leaf },
  fc.array(leaf, { maxLength: 4 }),
  fc.dictionary(
    oddKey,
    fc.oneof(leaf, fc.array(leaf, { maxLength: 3 }), fc.dictionary(oddKey, leaf, { maxKeys: 2 })),
    { maxKeys: 4 },
  ),
);

/**
 * An object with any of these fields, each plausible, and half the time one field (known or not)
 * set to anything at all: one thing wrong at a time gets past the other checks to the deep ones.
 */
function shaped(fields: Record<string, fc.Arbitrary<unknown>>): fc.Arbitrary<Record<string, unknown>> {
  const names = Object.keys(fields);
  const name = names.length > 0 ? fc.oneof(fc.constantFrom(...names), oddKey) : oddKey;
  return fc
    .tuple(fc.record(fields, { requiredKeys: [] }), fc.option(fc.tuple(name, hostile), { freq: 2 }))
    .map(([picked, changed]) => (changed === null ? picked : { ...picked, [changed[0]]: changed[1] }));
}

const revValue = fc.oneof(
  oneOfWords('1-abc 1- -1 0-x garbage 99999999999999999999-a 1-967a00dff5e02add41819138abb3284d'),
  fc.nat({ max: 5 }).map((n) => `${n}-${'a'.repeat(32)}`),
);
const idValue = fc.oneof(
  fc.constantFrom('doc1', 'conflicted', '_design/d', '_design/', '_local/x', '_foo', '', '\ud800', 'a/b'),
  fc.constantFrom(...PROTOTYPE_NAMES),
  oddString,
);
/** Field paths, many through the seeded document whose fields have inherited names. */
const fieldName = fc.oneof(
  {
    weight: 4,
    arbitrary: oneOfWords('a b a.b.c _id b.a a.__proto__ a.__proto__.x b.constructor a.constructor.name'),
  },
  fc.constantFrom(...PROTOTYPE_NAMES),
  oddString,
);
/** Selectors Mango takes, some through fields with inherited names. */
const validSelector = fc.oneof(
  fc.constantFrom<unknown>(
    { a: { $gt: 1 } },
    { $or: [{ a: 1 }, { b: { $exists: true } }] },
    { a: { $regex: '^x' } },
    { a: { $mod: [2, 1] } },
    { a: { $type: 'number' } },
    { a: { $in: [1, 'x'] } },
    { a: { $not: { $eq: 1 } } },
    { a: { $keyMapMatch: { $eq: 1 } } },
    { a: { $allMatch: { $gt: 0 } } },
    { _id: { $gt: null } },
    { b: { $exists: true } },
    { a: { $gte: 1 } },
  ),
  fc
    .tuple(
      fieldName,
      fc.constantFrom('$eq', '$ne', '$gt', '$exists', '$lt'),
      fc.oneof(fc.integer(), fc.boolean()),
    )
    .map(([field, op, arg]) => ({ $not: { [field]: { [op]: arg } } })),
);
/** Selectors Mango refuses, or that ask for arithmetic it must not do (`$mod` by 0). */
const oddSelector = fc.oneof(
  fc.constantFrom<unknown>(
    { a: { $regex: '(' } },
    { a: { $mod: [0, 1] } },
    { a: { $mod: [1.5, 1] } },
    { a: { $size: -1 } },
    { a: { $elemMatch: 5 } },
    { a: { $type: 'wat' } },
    { a: { $in: 'x' } },
    { a: { $all: null } },
    { $nor: {} },
    { a: { $not: 1 } },
    { 'a.b.c': { $lte: [] } },
    { a: { $constructor: 1 } },
  ),
  fc.dictionary(oddKey, fc.oneof(leaf, fc.dictionary(oddKey, hostile, { maxKeys: 2 })), { maxKeys: 3 }),
);
const selector = fc.oneof({ weight: 3, arbitrary: validSelector }, { weight: 1, arbitrary: oddSelector });
const functionSource = fc.constantFrom<unknown>(
  'function (doc) { emit(doc._id, 1); }',
  'function (doc) { emit(doc.a, doc.b); }',
  'function (doc) { emit([doc.a, doc._id], null); }',
  'function (doc, req) { return true; }',
  'function (newDoc) { if (newDoc.refuse) throw { forbidden: "no" }; }',
  'function (newDoc) { throw "a string"; }',
  'function (doc) { undefinedThing(); }',
  'function (',
  '_sum',
  '_count',
  '_stats',
  '_approx_count_distinct',
  '_bogus',
  'function (keys, values, rereduce) { return sum(values); }',
  42,
  '',
);

// --- bodies ------------------------------------------------------------------------------------

/** A body with its content type; without a type, the header is left out. */
const typedBody = (type: string | undefined, body: string | Buffer | null): Body => ({
  headers: type === undefined ? {} : { 'content-type': type },
  body: body ?? undefined,
});

const contentType = fc.oneof(
  { weight: 8, arbitrary: fc.constant('application/json') },
  fc.constantFrom(
    undefined,
    'application/json; charset=utf-8',
    'APPLICATION/JSON',
    'text/plain',
    'application/x-www-form-urlencoded',
    'multipart/form-data; boundary=b',
    'multipart/related',
    ';;;',
    '',
  ),
);

/** Texts that are not JSON, or JSON that parsers commonly get wrong. */
const brokenJson = fc.constantFrom<string | Buffer>(
  '{',
  '{"a":}',
  '[1,]',
  'nul',
  '\u0000',
  '\ufeff{}',
  '{"a":"\\x"}',
  '{"a":"\\ud800"}',
  '"\\udc00"',
  '{"_id":"a","_id":"b"}',
  '{"__proto__":{"_admin":true,"roles":["_admin"]}}',
  '{"constructor":{"prototype":{"polluted":1}}}',
  '1e999',
  '-0',
  '',
  ' ',
  Buffer.from([0xff, 0xfe, 0x7b, 0x7d]),
  Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xc3, 0x28, 0x22, 0x7d]),
);

/** Deep nesting, at a place each endpoint reads. */
const deeplyNested = fc
  .tuple(
    fc.integer({ min: 200, max: 20_000 }),
    fc.constantFrom(
      '$',
      '{"a":$}',
      '{"docs":[{"_id":"n","a":$}]}',
      '{"docs":[$]}',
      '{"selector":$}',
      '{"keys":[$]}',
      '{"index":{"fields":$}}',
    ),
    fc.boolean(),
  )
  .map(([depth, template, objects]) => {
    const nested = objects
      ? `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`
      : `${'['.repeat(depth)}${']'.repeat(depth)}`;
    return template.replace('$', nested);
  });

/** A JSON body: mostly the endpoint's shape, sometimes anything at all, sometimes none. */
function jsonBody(shape: fc.Arbitrary<unknown>): fc.Arbitrary<Body> {
  const text = fc.oneof(
    { weight: 10, arbitrary: shape.map((value) => JSON.stringify(value) ?? 'null') },
    { weight: 1, arbitrary: hostile.map((value) => JSON.stringify(value) ?? 'null') },
    { weight: 1, arbitrary: brokenJson },
    { weight: 1, arbitrary: deeplyNested },
  );
  return fc.tuple(contentType, fc.option(text, { freq: 10 })).map(([type, body]) => typedBody(type, body));
}

/** A multipart/related document whose boundary, lengths or encoding may all be lies. */
const multipartDoc = fc
  .record({
    declared: fc.constantFrom('b', 'abc', '', '"q"', '"unterminated', 'x'.repeat(80)),
    used: fc.constantFrom('b', 'abc', 'other', ''),
    json: fc.oneof(
      shaped({
        _attachments: fc.constant({ 'a.txt': { follows: true, content_type: 'text/plain', length: 3 } }),
        _rev: revValue,
      }).map((doc) => JSON.stringify(doc)),
      brokenJson.map(String),
    ),
    attachment: fc.constantFrom('abc', '', 'abcdefgh', '\r\n--b\r\n'),
    partHeaders: fc.constantFrom(
      '',
      'content-encoding: gzip\r\n',
      'bad header\r\n',
      'content-type: application/json\r\n',
    ),
    closed: fc.boolean(),
  })
  .map(({ declared, used, json, attachment, partHeaders, closed }) =>
    typedBody(
      `multipart/related; boundary=${declared}`,
      `--${used}\r\ncontent-type: application/json\r\n\r\n${json}\r\n` +
        `--${used}\r\n${partHeaders}\r\n${attachment}\r\n--${used}${closed ? '--' : ''}`,
    ),
  );

const docBody = shaped({
  _id: idValue,
  _rev: revValue,
  _deleted: fc.boolean(),
  _attachments: fc.oneof(
    fc.dictionary(
      fc.constantFrom('a.txt', 'b.txt', '_bad', ...PROTOTYPE_NAMES),
      fc.constantFrom<unknown>(
        { content_type: 'text/plain', data: 'aGk=' },
        { data: '!!not base64' },
        { stub: true, revpos: 1 },
        { stub: true },
        { follows: true, length: 3 },
        { data: 5 },
      ),
      { maxKeys: 2 },
    ),
    fc.constant('x'),
  ),
  _revisions: fc.record({ start: oddNumber, ids: fc.array(oddString, { maxLength: 3 }) }),
  _conflicts: fc.array(revValue),
  a: hostile,
  // What view `s` sums: numbers, arrays, and objects whose fields any object has.
  b: fc.oneof(
    oddNumber,
    fc.array(oddNumber, { maxLength: 2 }),
    fc.dictionary(fc.constantFrom('a', 'b', ...PROTOTYPE_NAMES), oddNumber, { maxKeys: 3 }),
  ),
  refuse: fc.boolean(),
});
/**
 * Validation functions that accept, or refuse with `forbidden` or `unauthorized`. Left out: one
 * that throws anything else, or does not compile (it is stored all the same), which makes every
 * later write to its database a 500 `unknown_error` (src/design/validation.ts and
 * src/server/write-rules.ts, another change's to decide: reported with this test's first run).
 */
const validationSource = fc.constantFrom<unknown>(
  'function (newDoc) { if (newDoc.refuse === true) throw { forbidden: "no" }; }',
  'function (newDoc) { if (newDoc.refuse === false) throw { unauthorized: "no" }; }',
);
const designBody = fc
  .tuple(
    shaped({
      _rev: revValue,
      language: oneOfWords('javascript query erlang cobol'),
      views: fc.dictionary(oddKey, shaped({ map: functionSource, reduce: functionSource }), { maxKeys: 2 }),
      filters: fc.dictionary(oddKey, functionSource, { maxKeys: 2 }),
      options: hostile,
    }),
    fc.option(validationSource),
  )
  .map(([doc, validation]) => (validation === null ? doc : { ...doc, validate_doc_update: validation }));

// --- paths and queries -------------------------------------------------------------------------

/** Mostly the route's methods, sometimes any other, or one Node's parser refuses (`FOO`). */
const methodOf = (methods: string[]) =>
  fc.oneof(
    { weight: 10, arbitrary: fc.constantFrom(...methods) },
    { weight: 2, arbitrary: oneOfWords('GET HEAD POST PUT DELETE COPY PATCH OPTIONS') },
    { weight: 1, arbitrary: oneOfWords('PROPFIND FOO') },
  );

/** Raw path segments of databases: never the control database, never a replicator database. */
const dbSegment = fc.oneof(
  { weight: 12, arbitrary: fc.constantFrom(...SEEDED) },
  oneOfWords('scratch-1 missing-db Fuzz-A a%2Fb .. %2E -x 9db db%00 %ED%A0%80 %zz a%20b %F0%9F%98%80'),
  fc.constantFrom('x'.repeat(300), ...PROTOTYPE_NAMES),
);
/** Raw path segments of document ids. */
const docSegment = fc.oneof(
  { weight: 4, arbitrary: oneOfWords('doc1 doc2 conflicted missing') },
  oneOfWords('%2F .. . _design%2F _design%2Fd _foo a%2Fb %00 %ED%A0%80 %zz %25 %F0%9F%98%80 %EF%BF%BF %20'),
  fc.constantFrom('x'.repeat(5000), ...PROTOTYPE_NAMES),
  fc.string({ unit: oddChar, maxLength: 12 }).map(encode),
);
const attachmentSegment = fc.oneof(
  oneOfWords('a.txt b%2Fc.txt b/c _x %2F .. %zz %ED%A0%80 missing.bin'),
  fc.constantFrom(...PROTOTYPE_NAMES),
);
const designName = fc.oneof(
  fc.constantFrom('d', 'missing', '', '%2F', '_view', 'd%2Fv', '%ED%A0%80', '..'),
  fc.constantFrom(...PROTOTYPE_NAMES),
);

/** Query values: mostly ones some parameter takes, often ones that parse as something else, or not at all. */
const queryValue = fc.oneof(
  {
    weight: 4,
    arbitrary: oneOfWords('true false 0 1 10 %22doc1%22 %5B%22doc1%22%5D 1-abc now all ok %5B%5D'),
  },
  fc.constantFrom(
    '',
    ...words('-1 1e3 99999999999999999999 x %zz % null %7B%7D %5B1%2C %22%5Cud800%22 %ED%A0%80'),
  ),
  hostile.map((value) => encode(JSON.stringify(value) ?? '')),
  fc.string({ unit: oddChar, maxLength: 8 }).map(encode),
);
const COMMON_PARAMS = words('rev limit skip descending include_docs conflicts attachments since key keys');
const DOC_PARAMS = words(
  'revs revs_info open_revs latest meta local_seq atts_since deleted_conflicts new_edits batch',
);
const LISTING_PARAMS = words('startkey endkey start_key end_key inclusive_end update_seq');
const VIEW_PARAMS = words('reduce group group_level stale update startkey_docid endkey_docid sorted stable');
const CHANGES_PARAMS = words('style filter doc_ids view seq_interval heartbeat');

/** `a=b` pairs with names mostly from the route's own parameters. */
function queryPairs(names: string[]): fc.Arbitrary<[string, string][]> {
  const name = fc.oneof(
    { weight: 8, arbitrary: fc.constantFrom(...names, ...COMMON_PARAMS) },
    fc.constantFrom(...PROTOTYPE_NAMES, '%zz'),
    fc.string({ unit: oddChar, maxLength: 6 }).map(encode),
  );
  return fc.oneof(
    fc.constant<[string, string][]>([]),
    fc.array(fc.tuple(name, queryValue), { maxLength: 3 }),
  );
}

const queryText = (pairs: [string, string][]) =>
  pairs.length === 0 ? '' : `?${pairs.map(([name, value]) => `${name}=${value}`).join('&')}`;

/** `?a=b&…` with names mostly from the route's own parameters. */
const queryOf = (names: string[]) => queryPairs(names).map(queryText);

/** A request from its parts: the body's headers join any extra ones (auth is added when sent). */
function request(
  methods: string[],
  path: fc.Arbitrary<string>,
  body: fc.Arbitrary<Body>,
  extraHeaders: fc.Arbitrary<Record<string, string>> = fc.constant({}),
): fc.Arbitrary<FuzzRequest> {
  return fc.tuple(methodOf(methods), path, body, extraHeaders).map(([method, p, b, headers]) => ({
    method,
    path: p,
    headers: { ...headers, ...b.headers },
    body: b.body,
  }));
}

/** `/{db}/{endpoint}{query}` for each of `endpoints`. */
const dbPath = (endpoints: fc.Arbitrary<string>, params: string[] = []) =>
  fc.tuple(dbSegment, endpoints, queryOf(params)).map(([db, endpoint, q]) => `/${db}/${endpoint}${q}`);

const docHeaders = fc.record(
  {
    'if-match': fc.constantFrom('"1-abc"', 'garbage', '""', '"'),
    'if-none-match': fc.constantFrom('"1-abc"', '*', 'x'),
    accept: fc.constantFrom('multipart/mixed', 'multipart/related', ';;;,,,multipart/mixed;;', 'text/html'),
    destination: fc.constantFrom('doc9', '%2F', '_design/x', '', 'doc1?rev=1-abc'),
  },
  { requiredKeys: [] },
);

const noBody: fc.Arbitrary<Body> = fc.constant({ headers: {} });
const anyBody = jsonBody(hostile);

/** `/{db}/{docid}`, `_design/{name}`, `_local/{id}` and attachments, with every method. */
const documentRequests = fc.oneof(
  request(
    words('GET HEAD PUT DELETE POST'),
    dbPath(docSegment, DOC_PARAMS),
    fc.oneof({ weight: 4, arbitrary: jsonBody(docBody) }, multipartDoc, noBody),
    docHeaders,
  ),
  request(
    words('GET HEAD PUT DELETE'),
    dbPath(
      designName.map((name) => `_design/${name}`),
      DOC_PARAMS,
    ),
    jsonBody(designBody),
  ),
  request(
    words('GET PUT DELETE'),
    dbPath(
      fc
        .tuple(fc.constantFrom('l', 'x', '', '%2F', '%ED%A0%80', '__proto__'), fc.constantFrom('', '/att'))
        .map(([id, after]) => `_local/${id}${after}`),
      ['rev'],
    ),
    jsonBody(docBody),
  ),
  request(
    words('GET HEAD PUT DELETE'),
    dbPath(
      fc
        .tuple(fc.oneof(docSegment, fc.constant('_design/d')), attachmentSegment)
        .map(([id, name]) => `${id}/${name}`),
      ['rev'],
    ),
    fc
      .tuple(
        fc.constantFrom(
          undefined,
          'text/plain',
          'application/json',
          '\u00ff',
          'multipart/related; boundary=b',
        ),
        fc.option(oddString),
      )
      .map(([type, body]) => typedBody(type, body)),
    docHeaders,
  ),
);

const viewQueryShape = shaped({
  keys: fc.array(hostile, { maxLength: 3 }),
  key: hostile,
  startkey: hostile,
  endkey: hostile,
  limit: count,
  skip: count,
  reduce: fc.boolean(),
  group: fc.boolean(),
  group_level: count,
  include_docs: fc.boolean(),
  descending: fc.boolean(),
});

/** Views, `_info`, and the design functions Settee answers with 501. */
const designRequests = request(
  ['GET', 'POST'],
  dbPath(
    fc
      .tuple(
        designName,
        fc.oneof(
          oneOfWords('_view/v _view/m _view/s _view/missing _view/v/queries _view/ _info _view/%ED%A0%80'),
          oneOfWords('_show/x _list/x/v _update/x _rewrite/x _view/__proto__ _view/constructor'),
        ),
      )
      .map(([name, action]) => `_design/${name}/${action}`),
    VIEW_PARAMS,
  ),
  jsonBody(fc.oneof(viewQueryShape, shaped({ queries: fc.array(viewQueryShape, { maxLength: 3 }) }))),
);

/** Parameters that bound a feed: generated ones of these names are dropped from a waiting feed. */
const FEED_BOUNDS = new Set(['feed', 'timeout', 'heartbeat']);
const boundsFeed = ([name]: [string, string]) => {
  try {
    return FEED_BOUNDS.has(decodeURIComponent(name));
  } catch {
    return false;
  }
};

/**
 * `_changes`, always bounded: a longpoll or live feed gets a timeout of a few ms (or one that
 * is refused) and no heartbeat, which would keep a longpoll waiting for a change.
 */
const changesRequests = request(
  ['GET', 'POST'],
  fc
    .tuple(
      dbSegment,
      queryPairs(CHANGES_PARAMS),
      fc.constantFrom('', ...words('normal longpoll continuous eventsource live x')),
      oneOfWords('0 5 20 x -1'),
    )
    .map(([db, pairs, feed, timeout]) => {
      if (feed === '') return `/${db}/_changes${queryText(pairs)}`;
      const bounded: [string, string][] = [
        ['feed', feed],
        ['timeout', timeout],
      ];
      return `/${db}/_changes${queryText([...pairs.filter((pair) => !boundsFeed(pair)), ...bounded])}`;
    }),
  jsonBody(shaped({ doc_ids: fc.array(idValue, { maxLength: 3 }), selector })),
);

const indexFields = fc.array(
  fc.oneof(
    fieldName,
    fieldName.map((field) => ({ [field]: 'asc' })),
    fc.dictionary(fieldName, oneOfWords('asc desc up')),
  ),
  { maxLength: 3 },
);
const revsByDoc = fc.dictionary(idValue, fc.array(revValue, { maxLength: 3 }), { maxKeys: 3 });

/** `_all_docs` and the like, `_bulk_*`, `_revs_diff`, Mango, and the database's settings. */
const databaseEndpointRequests = fc.oneof(
  request(
    ['GET', 'POST'],
    dbPath(oneOfWords('_all_docs _local_docs _design_docs'), LISTING_PARAMS),
    jsonBody(shaped({ keys: fc.array(idValue, { maxLength: 3 }) })),
  ),
  request(
    ['POST'],
    dbPath(fc.constant('_bulk_docs'), ['new_edits']),
    jsonBody(shaped({ docs: fc.array(docBody, { maxLength: 4 }), new_edits: fc.boolean() })),
  ),
  request(
    ['POST'],
    dbPath(fc.constant('_bulk_get'), ['revs', 'latest', 'attachments']),
    jsonBody(
      shaped({
        docs: fc.array(shaped({ id: idValue, rev: revValue, atts_since: fc.array(revValue) }), {
          maxLength: 4,
        }),
        revs: fc.boolean(),
      }),
    ),
    fc.record({ accept: fc.constantFrom('multipart/mixed', 'application/json') }, { requiredKeys: [] }),
  ),
  request(['POST'], dbPath(oneOfWords('_revs_diff _missing_revs')), jsonBody(revsByDoc)),
  request(
    ['POST'],
    dbPath(oneOfWords('_find _explain')),
    jsonBody(
      shaped({
        fields: fc.array(fieldName, { maxLength: 3 }),
        // Sorting needs an index: mostly over `a`, which the seeded one covers.
        sort: fc.oneof(
          { weight: 3, arbitrary: fc.constantFrom<unknown>(['a'], [{ a: 'asc' }], [{ a: 'desc' }]) },
          indexFields,
        ),
        limit: count,
        skip: count,
        use_index: fc.constantFrom<unknown>('i', ['i', 'i'], '_design/i', 'nope'),
        execution_stats: fc.boolean(),
        r: fc.constant(1),
        conflicts: fc.boolean(),
        update: fc.boolean(),
        stable: fc.boolean(),
      }).chain((rest) => selector.map((picked) => ({ selector: picked, ...rest }))),
    ),
  ),
  request(
    ['GET', 'POST'],
    dbPath(fc.constant('_index'), ['limit', 'skip']),
    jsonBody(
      shaped({
        index: shaped({ fields: indexFields, partial_filter_selector: selector }),
        ddoc: oddString,
        name: oddString,
        type: oneOfWords('json text special nouveau'),
        partitioned: fc.boolean(),
      }),
    ),
  ),
  request(
    ['DELETE', 'POST'],
    dbPath(
      oneOfWords('_index/d/json/i _index/_design%2Fd/json/i _index/d/text/i _index/x _index/_bulk_delete'),
    ),
    jsonBody(shaped({ docids: fc.array(oddString, { maxLength: 3 }) })),
  ),
  request(
    ['GET', 'PUT'],
    dbPath(fc.constant('_security')),
    jsonBody(
      shaped({
        admins: shaped({
          names: fc.array(oddString, { maxLength: 2 }),
          roles: fc.array(oddString, { maxLength: 2 }),
        }),
        members: shaped({ names: fc.constant([MEMBER.name]), roles: fc.array(oddString, { maxLength: 2 }) }),
      }),
    ),
  ),
  request(['GET', 'PUT'], dbPath(fc.constant('_revs_limit')), jsonBody(oddNumber)),
  request(
    ['POST'],
    dbPath(oneOfWords('_compact _compact/d _view_cleanup _ensure_full_commit _purge _purged_infos_limit')),
    jsonBody(revsByDoc),
  ),
  request(
    ['GET'],
    dbPath(oneOfWords('_conflicts _resolutions _resolve _resolve/conflicted _resolve/missing _resolver'), [
      'prefix',
      'doc',
    ]),
    noBody,
  ),
  request(
    words('POST PUT DELETE'),
    dbPath(oneOfWords('_resolve _resolve/conflicted _resolve/_design/d _resolver')),
    jsonBody(
      shaped({
        strategy: fc.constantFrom('couchdb', 'last-writer-wins', 'crdt', 'nope', ...PROTOTYPE_NAMES),
        options: hostile,
        stamping: hostile,
        ids: fc.array(idValue, { maxLength: 3 }),
        merged: docBody,
        keep: revValue,
        losers: fc.array(revValue, { maxLength: 2 }),
      }),
    ),
  ),
  request(
    words('GET HEAD POST PUT DELETE'),
    fc.tuple(dbSegment, queryOf(['revisions'])).map(([db, q]) => `/${db}${q}`),
    jsonBody(docBody),
  ),
  request(
    words('GET PUT POST'),
    dbPath(oneOfWords('_unknown _ _design _local _design_docs/x _all_docs/x')),
    anyBody,
  ),
);

/** Where a replication may point: this server's own databases, by name or by its 127.0.0.1 URL. */
function replicationEndpoint(base: string): fc.Arbitrary<unknown> {
  const own = (db: string) => `${base}/${db}`;
  return fc.oneof(
    fc.constantFrom(...SEEDED, 'scratch-2', 'missing-db', '', 'Bad Name', '_users'),
    fc.constantFrom(...SEEDED, 'scratch-2').map(own),
    fc.constantFrom(...SEEDED).map((db) => ({ url: own(db), headers: { authorization: BASIC } })),
    fc
      .constantFrom(...SEEDED)
      .map((db) => ({ url: own(db), auth: { basic: { username: 'admin', password: 'wrong' } } })),
    fc.constantFrom<unknown>(`${base}/`, `${base}/%zz`, 'ftp://127.0.0.1/x', 'http://', 42, null, [], {
      url: 5,
    }),
  );
}

/**
 * `_replicate` bodies and `_replicator` documents: one-shot only (`continuous` is never `true`),
 * between this server's own fuzzed databases.
 */
function replicationBody(base: string): fc.Arbitrary<Record<string, unknown>> {
  return shaped({
    source: replicationEndpoint(base),
    target: replicationEndpoint(base),
    continuous: fc.constantFrom<unknown>(false, 'true', 1, null),
    create_target: fc.boolean(),
    doc_ids: fc.array(idValue, { maxLength: 2 }),
    selector,
    filter: oneOfWords('d/f _view nofilter d/missing d/__proto__'),
    view: oneOfWords('d/v x'),
    query_params: hostile,
    since_seq: fc.oneof(oddNumber, oddString),
    winning_revs_only: fc.boolean(),
    cancel: fc.constantFrom<unknown>(true, 'yes'),
    replication_id: oddString,
  }).map(({ continuous, ...rest }) => ({ ...rest, ...(continuous === true ? {} : { continuous }) }));
}

const userName = fc.constantFrom('alice', 'bob', '', '\ud800', '_admin', 'x:y', ...PROTOTYPE_NAMES);
const userBody = shaped({
  name: userName,
  type: fc.constantFrom('user', 'admin', ''),
  roles: fc.array(fc.constantFrom('_admin', 'staff', '_metrics', ''), { maxLength: 2 }),
  password: oddString,
  password_scheme: oneOfWords('pbkdf2 simple'),
  pbkdf2_prf: fc.constantFrom('sha256', 'sha1', 'md5', ...PROTOTYPE_NAMES),
  iterations: oddNumber,
  derived_key: oddString,
  salt: oddString,
});

const SERVER_READS = words(
  '_up _uuids _all_dbs _dbs_info _my_dbs _active_tasks _scheduler/jobs _scheduler/jobs/x _scheduler/docs ' +
    '_scheduler/docs/_replicator _scheduler/docs/_replicator/x _scheduler/docs/other _membership ' +
    '_cluster_setup _reshard _stats _config _unknown _utils _scheduler/jobs/__proto__',
);
const NODE_PATHS = words(
  '_config _config/s _config/s/k _config/a/b/c _config/__proto__ _config/constructor/name ' +
    '_config/__proto__/constructor _stats _stats/couchdb/httpd _stats/%ED%A0%80 _stats/__proto__ ' +
    '_stats/constructor/name _prometheus _system _logs _nope __proto__',
).map((path) => `/_node/_local/${path}`);

/** Server endpoints, `_users`, `_replicator` and `_session`. */
function serverRequests(base: string): fc.Arbitrary<FuzzRequest> {
  const withQuery = (paths: string[], params: string[]) =>
    fc.tuple(fc.constantFrom(...paths), queryOf(params)).map(([path, q]) => `${path}${q}`);
  return fc.oneof(
    request(
      ['GET'],
      withQuery(['/', ...SERVER_READS.map((p) => `/${p}`)], ['count', ...LISTING_PARAMS]),
      noBody,
    ),
    request(
      ['POST'],
      fc.constant('/_dbs_info'),
      jsonBody(shaped({ keys: fc.array(fc.oneof(fc.constantFrom(...SEEDED), hostile), { maxLength: 3 }) })),
    ),
    request(
      words('GET PUT DELETE'),
      withQuery([...NODE_PATHS, '/_node/other/_config', '/_node/_local'], ['level', 'limit']),
      anyBody,
    ),
    request(['POST'], fc.constant('/_replicate'), jsonBody(replicationBody(base))),
    request(
      words('GET PUT DELETE POST'),
      withQuery(
        words('/_replicator /_replicator/job1 /_replicator/job2 /_replicator/_design/x /_replicator/%2F'),
        ['rev'],
      ),
      jsonBody(replicationBody(base)),
    ),
    request(
      words('GET PUT DELETE'),
      fc
        .tuple(
          fc.oneof(
            userName.map((name) => `/org.couchdb.user:${encode(name)}`),
            fc.constantFrom('/org.couchdb.user%3A', '/alice', '/_design/_auth', ''),
          ),
          queryOf(['rev']),
        )
        .map(([id, q]) => `/_users${id}${q}`),
      jsonBody(userBody),
    ),
    request(
      words('GET POST DELETE'),
      queryOf(['next', 'basic']).map((q) => `/_session${q}`),
      fc.oneof(
        jsonBody(shaped({ name: userName, password: oddString })),
        fc
          .tuple(oddString, oddString)
          .map(([name, password]) =>
            typedBody(
              'application/x-www-form-urlencoded',
              `name=${encode(name)}&password=${encode(password)}&x=%zz`,
            ),
          ),
      ),
    ),
  );
}

/** `DELETE /{db}` of a seeded database would leave nothing to fuzz: it deletes a scratch one. */
function sparingSeeded(request: FuzzRequest): FuzzRequest {
  const path = request.path.split('?', 1)[0]!.replace(/\/$/, '');
  const seeded = SEEDED.some((db) => path === `/${db}`);
  return request.method === 'DELETE' && seeded ? { ...request, path: '/scratch-1' } : request;
}

/** A hostile request to any route of the server at `base`. */
export function hostileRequest(base: string): fc.Arbitrary<FuzzRequest> {
  return fc
    .oneof(
      { weight: 4, arbitrary: documentRequests },
      { weight: 2, arbitrary: designRequests },
      { weight: 2, arbitrary: changesRequests },
      { weight: 5, arbitrary: databaseEndpointRequests },
      { weight: 3, arbitrary: serverRequests(base) },
    )
    .map(sparingSeeded);
}
