import type { ChangeRow, ChangesResponse, Seq } from '../core/api.js';
import { IncompleteResponseError } from './errors.js';
import type { HttpResponse } from './http.js';
import { loadJsonParser } from './json-parser.js';

/**
 * Reads a normal or longpoll `_changes` body as it streams in: each row of `results` is parsed
 * on its own and handed to `onRow`, so a huge feed never sits in memory as one string (the rows
 * are still collected, as the Peer interface returns them). Heartbeat newlines are whitespace.
 * A `bounded` body (a normal feed asked with a `limit`, as replicators page) is read whole and
 * parsed natively instead: the streaming parser tokenizes in JavaScript, ten times slower, and in
 * a page one chunk of a 500-row page held the main thread for tens of milliseconds.
 */
export async function readChanges(
  response: HttpResponse,
  onRow?: (row: ChangeRow) => void,
  bounded = false,
): Promise<ChangesResponse> {
  let results: ChangeRow[] = [];
  let lastSeq: Seq | undefined;
  let pending: number | undefined;
  if (bounded) {
    ({ results = [], last_seq: lastSeq, pending } = await response.json<Partial<ChangesResponse>>());
    if (onRow) results.forEach(onRow);
  } else {
    const JSONParser = await loadJsonParser();
    // keepStack: false drops each row from the parser's own copy once emitted.
    const parser = new JSONParser({ paths: ['$.results.*', '$.last_seq', '$.pending'], keepStack: false });
    parser.onValue = ({ value, key, stack }) => {
      if (stack.length === 2 && typeof key === 'number') {
        const row = value as unknown as ChangeRow;
        results.push(row);
        onRow?.(row);
      } else if (key === 'last_seq') lastSeq = value as Seq;
      else if (key === 'pending') pending = value as number;
    };
    for await (const chunk of response.chunks()) parser.write(chunk);
    if (!parser.isEnded) throw new IncompleteResponseError();
  }
  // Servers without `last_seq` (none known) still let the caller move on from the last row.
  const last = lastSeq ?? results.at(-1)?.seq ?? 0;
  // pouchdb-server sends no `pending`: unknown stays unknown, so progress does not read 100%.
  return { results, last_seq: last, ...(pending === undefined ? {} : { pending }) };
}
