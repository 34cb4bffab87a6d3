import { describe } from 'vitest';
import { RemoteDatabase } from '../../src/remote/index.js';
import { ADMIN, type TestServer, useServerPerFile } from '../server/harness.js';
import { runPeerTests } from './conformance.js';

let server: TestServer;
let name = '';
useServerPerFile(
  (started) => (server = started),
  (created) => (name = created),
);

describe('RemoteDatabase (over a Settee server on 127.0.0.1) as a Peer', () => {
  runPeerTests(
    async () =>
      new RemoteDatabase(`${server.url}/${name}`, {
        auth: { username: ADMIN.name, password: ADMIN.password },
      }),
  );
});
