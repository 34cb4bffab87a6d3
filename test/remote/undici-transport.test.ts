import { once } from 'node:events';
import type { Readable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { undiciTransport } from '../../src/remote/undici-transport.js';
import { type FakeServer, startFakeServer } from './fake-server.js';

let fake: FakeServer | undefined;
afterEach(async () => {
  await fake?.close();
  fake = undefined;
});

describe('undici transport', () => {
  it('a connection lost before its body is read fails the read, not the process', async () => {
    let cut: Promise<unknown> = Promise.resolve();
    fake = await startFakeServer((req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      cut = once(req.socket, 'close');
      // Cut once the headers and a first chunk are on their way: the client has a response.
      res.write('{"results":[', () => req.socket.destroy());
    });
    const response = await undiciTransport()(`${fake.url}/db/_changes`, {
      method: 'GET',
      headers: {},
      signal: new AbortController().signal,
    });
    // The reader comes late (as one awaiting a parser's import does): the body has failed by then,
    // with nobody listening — an 'error' event Node would throw, ending the process.
    await cut;
    const body = response.body() as Readable;
    for (let turn = 0; turn < 400 && !body.destroyed; turn++)
      await new Promise((resolve) => setTimeout(resolve, 5));
    expect(body.destroyed).toBe(true);
    const read = async () => {
      for await (const chunk of response.body()) expect(chunk).toBeInstanceOf(Uint8Array);
    };
    await expect(read()).rejects.toMatchObject({ code: 'UND_ERR_SOCKET' });
  });
});
