/** The fault-injecting proxy itself: each fault does what it says, and the seed decides. */
import http from 'node:http';
import net from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../replication/helpers.js';
import { type FaultProxy, type FaultProxyOptions, mulberry32, startFaultProxy } from './fault-proxy.js';

const BODY = Buffer.alloc(200_000, 'x');
let server: http.Server;
let port: number;
const proxies: FaultProxy[] = [];

beforeAll(async () => {
  server = http.createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': BODY.length });
    res.end(BODY);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as net.AddressInfo).port;
});

afterEach(async () => {
  await Promise.all(proxies.splice(0).map((p) => p.close()));
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

async function proxy(options: Partial<FaultProxyOptions>): Promise<FaultProxy> {
  const started = await startFaultProxy({ targetPort: port, seed: 1, ...options });
  proxies.push(started);
  return started;
}

/** Only this fault, on every exchange. */
const only = (fault: 'cut' | 'stall' | 'truncate' | 'delay') => ({
  faultRate: 1,
  weights: { cut: 0, stall: 0, truncate: 0, delay: 0, [fault]: 1 },
});

interface Outcome {
  bytes: number;
  error: string | undefined;
  /** ms from the request to the first response byte, and to the end. */
  firstByteMs: number | undefined;
  endMs: number;
}

/** One raw HTTP/1.1 request (Connection: close) through a socket, and what came back. */
function get(target: number): Promise<Outcome> {
  return new Promise((resolve) => {
    const started = Date.now();
    const socket = net.connect({ port: target, host: '127.0.0.1' });
    let bytes = 0;
    let error: string | undefined;
    let firstByteMs: number | undefined;
    socket.write('GET / HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n');
    socket.on('data', (chunk: Buffer) => {
      firstByteMs ??= Date.now() - started;
      bytes += chunk.length;
    });
    socket.on('error', (err: NodeJS.ErrnoException) => {
      error = err.code ?? err.message;
    });
    socket.on('close', () => resolve({ bytes, error, firstByteMs, endMs: Date.now() - started }));
  });
}

describe('the fault proxy', () => {
  it('mulberry32 is deterministic in its seed', () => {
    const [a, b, c] = [mulberry32(7), mulberry32(7), mulberry32(8)];
    const draws = Array.from({ length: 5 }, () => [a(), b(), c()]);
    for (const [x, y, z] of draws) {
      expect(x).toBe(y);
      expect(x).not.toBe(z);
      expect(x).toBeGreaterThanOrEqual(0);
      expect(x).toBeLessThan(1);
    }
  });

  it('passes everything through at fault rate 0', async () => {
    const direct = await get(port);
    const p = await proxy({ faultRate: 0 });
    const through = await get(p.port);
    expect(through).toMatchObject({ bytes: direct.bytes, error: undefined });
    expect(direct.bytes).toBeGreaterThan(BODY.length);
    expect(p.stats).toMatchObject({ connections: 1, exchanges: 1, cut: 0, stall: 0, truncate: 0, delay: 0 });
  });

  it('cut: resets the connection after at most maxFaultOffset bytes', async () => {
    const p = await proxy({ ...only('cut'), maxFaultOffset: 500 });
    const outcome = await get(p.port);
    expect(outcome.error).toBe('ECONNRESET');
    expect(outcome.bytes).toBeLessThanOrEqual(500);
    expect(p.stats.cut).toBe(1);
  });

  it('truncate: ends the response cleanly, short', async () => {
    const p = await proxy({ ...only('truncate'), maxFaultOffset: 500 });
    const outcome = await get(p.port);
    expect(outcome.error).toBeUndefined();
    expect(outcome.bytes).toBeLessThanOrEqual(500);
    expect(p.stats.truncate).toBe(1);
  });

  it('stall: goes silent, then closes after stallMs', async () => {
    const p = await proxy({ ...only('stall'), maxFaultOffset: 500, stallMs: 300 });
    const outcome = await get(p.port);
    expect(outcome.bytes).toBeLessThanOrEqual(500);
    expect(outcome.endMs).toBeGreaterThanOrEqual(290);
    expect(p.stats.stall).toBe(1);
  });

  it('delay: the whole response, late', async () => {
    const p = await proxy({ ...only('delay'), maxDelayMs: 200 });
    const direct = await get(port);
    for (let i = 0; i < 4; i++) {
      expect(await get(p.port)).toMatchObject({ bytes: direct.bytes, error: undefined });
    }
    // A delay drawn as 0 ms is no delay.
    expect(p.stats.delay).toBeGreaterThan(0);
  });

  it('draws a fate for every exchange of a keep-alive connection', async () => {
    const p = await proxy({ faultRate: 0 });
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    for (let i = 0; i < 3; i++) {
      await new Promise<void>((resolve, reject) => {
        http
          .get({ port: p.port, host: '127.0.0.1', agent }, (res) => res.resume().on('end', resolve))
          .on('error', reject);
      });
    }
    agent.destroy();
    expect(p.stats).toMatchObject({ connections: 1, exchanges: 3 });
  });

  it('the same seed strikes the same way; close() ends a stalled connection at once', async () => {
    const outcomes = [];
    for (const seed of [5, 5]) {
      const p = await proxy({ seed, faultRate: 0.5, maxFaultOffset: 100_000, stallMs: 100 });
      for (let i = 0; i < 8; i++) await get(p.port);
      outcomes.push({ ...p.stats });
    }
    expect(outcomes[0]).toEqual(outcomes[1]);
    expect(outcomes[0]!.exchanges).toBe(8);

    const p = await proxy({ ...only('stall'), maxFaultOffset: 0, stallMs: 60_000 });
    const pending = get(p.port);
    // Closed while the response is stalled, not before the request even reached the proxy.
    await waitFor(() => p.stats.stall === 1, 'the stall');
    await p.close();
    expect((await pending).endMs).toBeLessThan(5_000);
  });
});
