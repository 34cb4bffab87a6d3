import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { BulkGetOptions, BulkGetRequest } from '../../src/core/api.js';
import { b64, rev, useTempDatabases, writeReplicated } from './helpers.js';

const dbs = useTempDatabases();

/** Bodies as users write them: any JSON object whose keys do not start with `_`. */
const body = fc.dictionary(
  fc.string({ maxLength: 8 }).filter((key) => !key.startsWith('_')),
  fc.jsonValue({ maxDepth: 3 }),
  { maxKeys: 6 },
);

const options = fc.record({ revs: fc.boolean(), latest: fc.boolean(), attachments: fc.boolean() });

describe('bulkGetJson', () => {
  it('is JSON of what bulkGet answers, entry for entry, for any bodies and options', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(body, { minLength: 1, maxLength: 6 }), options, async (bodies, opts) => {
        const db = await dbs.open();
        const ids = bodies.map((_, i) => `doc${i}`);
        for (const [i, id] of ids.entries()) {
          const written = await db.put({ _id: id, ...bodies[i] });
          // Every other document gets a second revision with an attachment, then a conflicting
          // branch, and every third one is deleted: stubs, data, _deleted and history all show.
          if (i % 2 === 0) {
            const edited = await db.put({
              _id: id,
              _rev: written.rev,
              ...bodies[i],
              _attachments: { 'a.txt': { content_type: 'text/plain', data: b64(`attachment ${i}`) } },
            });
            await writeReplicated(db, id, [rev(2, 'c'), written.rev], { branch: i });
            if (i % 3 === 0) await db.remove(id, edited.rev);
          }
        }
        const request: BulkGetRequest = {
          docs: [
            ...ids.map((id) => ({ id })),
            { id: 'doc0', rev: rev(1, '9') },
            { id: 'nowhere' },
            { rev: rev(1, '9') } as unknown as { id: string },
          ],
        };
        const expected = await db.bulkGet(request, opts as BulkGetOptions);
        const texts = await db.bulkGetJson(request, opts as BulkGetOptions);
        expect(texts.map((text) => JSON.parse(text))).toEqual(expected.results);
        await db.close();
      }),
      { numRuns: 40 },
    );
  });
});
