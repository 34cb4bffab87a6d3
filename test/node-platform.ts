// Every test process opens databases as the Node entry does: `Database.open` on SQLite files,
// views and filter functions in a worker thread's sandbox.
// (vitest.config.ts runs this first in each test file; child processes import it themselves.)
import '../src/storage/sqlite/open.js';
import '../src/design/install-node.js';
