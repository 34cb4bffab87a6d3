// Run in the folder where the packed tarball was installed (.ci/pack-install.sh): starts the
// installed `settee serve` on a free port, checks it serves documents and its web UI, stops it.
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';

const ADMIN = 'admin:pack-test';
const auth = { authorization: `Basic ${Buffer.from(ADMIN).toString('base64')}` };

const port = await new Promise((resolve) => {
  const probe = createServer().listen(0, '127.0.0.1', () => {
    const { port } = probe.address();
    probe.close(() => resolve(port));
  });
});
const url = `http://127.0.0.1:${port}`;
const server = spawn(
  'npx',
  ['--no-install', 'settee', 'serve', '--port', String(port), '--data', './data', '--admin', ADMIN],
  {
    stdio: ['ignore', 'pipe', 'pipe'],
    // Its own process group: npx starts the server as a child, and both are stopped together.
    detached: true,
  },
);
let log = '';
server.stdout.on('data', (chunk) => (log += chunk));
server.stderr.on('data', (chunk) => (log += chunk));
const exited = new Promise((resolve) => server.on('exit', (code) => resolve(code)));

/** Resolves once the server says it listens (its start-up line), or fails if it exits first. */
async function listening() {
  const started = new Promise((resolve) => {
    const onData = () => log.includes(url) && resolve();
    server.stdout.on('data', onData);
    server.stderr.on('data', onData);
  });
  const code = await Promise.race([started.then(() => undefined), exited]);
  if (code !== undefined) throw new Error(`settee serve exited (${code}) before listening`);
}

async function check(path, init, expected) {
  const response = await fetch(`${url}${path}`, { ...init, headers: { ...auth, ...init?.headers } });
  const text = await response.text();
  if (!response.ok || !text.includes(expected))
    throw new Error(`${path}: ${response.status} ${text.slice(0, 200)}`);
}

try {
  await listening();
  await check('/_up', undefined, '"status"');
  await check('/pack-check', { method: 'PUT' }, '"ok":true');
  const doc = {
    method: 'PUT',
    body: '{"from":"the tarball"}',
    headers: { 'content-type': 'application/json' },
  };
  await check('/pack-check/hello', doc, '"ok":true');
  await check('/pack-check/hello', undefined, '"from":"the tarball"');
  await check('/_ui/', undefined, '<html');
  console.log(`pack-install: the packed settee serves documents and its web UI (${url})`);
} catch (error) {
  console.error(log);
  throw error;
} finally {
  process.kill(-server.pid, 'SIGTERM');
  await exited;
}
