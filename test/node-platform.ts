// Every test process opens databases as the Node entry does: `Database.open` on SQLite files.
// (vitest.config.ts runs this first in each test file; child processes import it themselves.)
import '../src/storage/sqlite/open.js';
