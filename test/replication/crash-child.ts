// Run as a child process by crash.test.ts: replicates a server database into a local SQLite file,
// one line per event on stdout, so that the parent can kill it (SIGKILL) in the middle and see,
// after a restart, where it resumed:
//   since <seq>                     the `since` of its first changes request
//   written <n>                     after its n-th write to the target, before the checkpoint
//   batch <docs_written> <last_seq> after each batch written and checkpointed
//   done <json>                     the result, with `rows`: the change rows it read
import type { Peer } from '../../src/core/api.js';
import { Database } from '../../src/database/database.js';
import '../node-platform.js';
import { RemoteDatabase } from '../../src/remote/index.js';
import { replicate } from '../../src/replication/index.js';

const [sourceUrl, targetPath, batchSize, checkpointDelay, checkpointInterval] = process.argv.slice(2);
if (!sourceUrl || !targetPath) {
  throw new Error(
    'usage: crash-child <source url> <target file> [batch size] [checkpoint delay ms] [checkpoint interval ms]',
  );
}

const remote = new RemoteDatabase(sourceUrl);
const target = await Database.open(targetPath);
let rows = 0;
let first = true;
let writes = 0;
// The source, counting what it is asked for; the target, reporting its writes and taking its time
// over checkpoints: a kill just after a write lands before that batch is checkpointed.
const source: Peer = {
  peerId: () => remote.peerId(),
  info: () => remote.info(),
  ensureExists: () => remote.ensureExists(),
  changes: async (options) => {
    if (first) process.stdout.write(`since ${JSON.stringify(options.since ?? 0)}\n`);
    first = false;
    const page = await remote.changes(options);
    rows += page.results.length;
    return page;
  },
  revsDiff: (request) => remote.revsDiff(request),
  bulkGet: (request, options) => remote.bulkGet(request, options),
  bulkDocs: (docs, options) => remote.bulkDocs(docs, options),
  getLocal: (id) => remote.getLocal(id),
  putLocal: (doc) => remote.putLocal(doc),
};
const slowCheckpoints: Peer = {
  peerId: () => target.peerId(),
  info: () => target.info(),
  ensureExists: () => target.ensureExists(),
  changes: (options) => target.changes(options),
  revsDiff: (request) => target.revsDiff(request),
  bulkGet: (request, options) => target.bulkGet(request, options),
  bulkDocs: async (docs, options) => {
    const results = await target.bulkDocs(docs, options);
    process.stdout.write(`written ${++writes}\n`);
    return results;
  },
  getLocal: (id) => target.getLocal(id),
  putLocal: async (doc) => {
    await new Promise((resolve) => setTimeout(resolve, Number(checkpointDelay ?? 0)));
    return target.putLocal(doc);
  },
};

const replication = replicate(source, slowCheckpoints, {
  batch_size: Number(batchSize ?? 100),
  ...(checkpointInterval === undefined ? {} : { checkpoint_interval: Number(checkpointInterval) }),
});
replication.on('change', (progress) => {
  process.stdout.write(`batch ${progress.docs_written} ${JSON.stringify(progress.last_seq)}\n`);
});
const result = await replication.done;
process.stdout.write(`done ${JSON.stringify({ ...result, rows })}\n`);
await target.close();
