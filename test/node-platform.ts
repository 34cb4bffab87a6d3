// Every test process opens databases as the Node entry does: `Database.open` on SQLite files,
// views and filter functions in a worker thread's sandbox, HTTP over undici's pool, the `$regex`
// engine loaded up front.
// (vitest.config.ts runs this first in each test file; child processes import it themselves.)
import '../src/storage/sqlite/open.js';
import '../src/design/install-node.js';
import '../src/remote/undici-transport.js';
import '../src/core/mango/regex-preload.js';
