/** The creation rules of creations.ts on SQLite files. */
import { describeCreations } from './creations.js';
import { useTempDatabases } from './helpers.js';

const dbs = useTempDatabases();

describeCreations(() => dbs.open());
