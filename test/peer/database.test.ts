import { describe } from 'vitest';
import { useTempDatabases } from '../replication/helpers.js';
import { runPeerTests } from './conformance.js';

const dbs = useTempDatabases();

describe('Database as a Peer', () => {
  runPeerTests(() => dbs.open());
});
