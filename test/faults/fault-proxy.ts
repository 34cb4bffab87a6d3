/**
 * A seeded, fault-injecting TCP proxy for tests: it sits between an HTTP client and a server
 * and, at random, cuts connections, stalls responses, truncates them or delays them.
 *
 * It is byte-level (node:net) and knows only one thing about HTTP: on a keep-alive connection a
 * client sends its next request after the previous response began to arrive. Every such
 * *exchange* (a request and its response) draws its own fate, so a connection that passed its
 * first exchange untouched is not spared for the rest of its life. (Pipelined requests, which
 * fetch/undici does not send, would share one fate.) The fates:
 * - `pass`: forwarded untouched;
 * - `cut`: the response is forwarded up to a random offset, then the connection is reset (RST);
 * - `truncate`: forwarded up to the offset, then the connection is closed cleanly (FIN);
 * - `stall`: forwarded up to the offset, then nothing, the connection left open for `stallMs`;
 * - `delay`: the whole response, after a random wait.
 * Requests always reach the server whole: a fault may strike after the server acted on one.
 *
 * @example
 * const proxy = await startFaultProxy({ targetPort: 5984, seed: 7, faultRate: 0.3, stallMs: 1500 });
 * const db = new RemoteDatabase(`${proxy.url}/shop`, { timeoutMs: 400 });
 * // … replicate through it …
 * console.log(proxy.stats); // { connections: 9, exchanges: 46, cut: 3, stall: 6, truncate: 7, delay: 3 }
 * await proxy.close();
 */
import net from 'node:net';

/** What happens to one exchange's response. */
export type Fault = 'pass' | 'cut' | 'stall' | 'truncate' | 'delay';

export interface FaultProxyOptions {
  /** The port of the server behind the proxy. */
  targetPort: number;
  /** Its host (default 127.0.0.1). */
  targetHost?: string;
  /** Seeds the PRNG: the same seed draws the same fates for the same sequence of exchanges. */
  seed: number;
  /** Probability that an exchange gets a fault rather than passing (default 0.2). */
  faultRate?: number;
  /** Relative weights of the faults, when one is drawn (default: all 1). A weight of 0 disables one. */
  weights?: Partial<Record<Exclude<Fault, 'pass'>, number>>;
  /**
   * A cut, stall or truncation happens after a random number of response bytes in
   * [0, maxFaultOffset] (default 2048), skewed towards the start: before the headers, inside
   * them, or in the body. A response shorter than the drawn offset escapes its fault.
   */
  maxFaultOffset?: number;
  /**
   * How long a stalled response hangs, silent, before the proxy closes the connection (default
   * 2000 ms). Make it longer than the client's stall timeout, so that the client is the one to
   * give up: that is the fault under test.
   */
  stallMs?: number;
  /** A delayed response waits a random time in [0, maxDelayMs] before its first byte (default 100). */
  maxDelayMs?: number;
}

/**
 * What the proxy did: connections and exchanges seen, and the faults that struck, by kind. A
 * fault drawn for a response shorter than its offset does not strike and is not counted.
 */
export interface FaultStats {
  connections: number;
  exchanges: number;
  cut: number;
  stall: number;
  truncate: number;
  delay: number;
}

export interface FaultProxy {
  /** The port the proxy listens on (127.0.0.1). */
  readonly port: number;
  /** `http://127.0.0.1:<port>`: the server's root URL, through the proxy. */
  readonly url: string;
  readonly stats: FaultStats;
  /** Changes the fault rate from now on (0: a transparent proxy). */
  setFaultRate(rate: number): void;
  /** Stops listening and destroys every connection and pending timer. */
  close(): Promise<void>;
}

/**
 * mulberry32: a tiny, fast, seeded PRNG; returns a function giving floats in [0, 1).
 *
 * @example
 * const random = mulberry32(42);
 * random(); // 0.6011037519201636, every time
 */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Where an exchange's fault strikes. */
interface Fate {
  fault: Fault;
  /** Response bytes forwarded before a cut, stall or truncation. */
  offset: number;
  /** Wait before the first response byte of a delayed response. */
  delayMs: number;
}

/**
 * Starts a proxy on 127.0.0.1 (a free port) in front of `targetHost:targetPort`. Each connection
 * gets its own PRNG, seeded from the proxy's seed and the connection's number, so the fates do not
 * depend on how the exchanges of concurrent connections interleave.
 */
export async function startFaultProxy(options: FaultProxyOptions): Promise<FaultProxy> {
  const { targetPort, targetHost = '127.0.0.1', seed } = options;
  let faultRate = options.faultRate ?? 0.2;
  const maxFaultOffset = options.maxFaultOffset ?? 2048;
  const stallMs = options.stallMs ?? 2000;
  const maxDelayMs = options.maxDelayMs ?? 100;
  const weights = { cut: 1, stall: 1, truncate: 1, delay: 1, ...options.weights };
  const totalWeight = Object.values(weights).reduce((sum, w) => sum + Math.max(w, 0), 0);
  const stats: FaultStats = { connections: 0, exchanges: 0, cut: 0, stall: 0, truncate: 0, delay: 0 };
  const sockets = new Set<net.Socket>();
  const timers = new Set<NodeJS.Timeout>();

  const later = (ms: number, fn: () => void) => {
    const timer = setTimeout(() => {
      timers.delete(timer);
      fn();
    }, ms);
    timers.add(timer);
  };

  const kinds = (Object.entries(weights) as [Exclude<Fault, 'pass'>, number][]).filter(([, w]) => w > 0);

  const draw = (random: () => number): Fate => {
    stats.exchanges++;
    let fault: Fault = 'pass';
    if (kinds.length > 0 && random() < faultRate) {
      let pick = random() * totalWeight;
      fault = kinds.find(([, weight]) => (pick -= weight) < 0)?.[0] ?? kinds.at(-1)![0];
    }
    // Squared: most faults strike early (headers, the start of a body), some deep in a body.
    const offset = Math.floor(random() ** 2 * (maxFaultOffset + 1));
    return { fault, offset, delayMs: Math.floor(random() * (maxDelayMs + 1)) };
  };

  const server = net.createServer((client) => {
    const random = mulberry32((Math.imul(seed, 0x9e3779b1) + stats.connections++) >>> 0);
    const upstream = net.connect({ port: targetPort, host: targetHost });
    sockets.add(client);
    sockets.add(upstream);
    client.on('close', () => sockets.delete(client));
    upstream.on('close', () => sockets.delete(upstream));
    const destroyBoth = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', destroyBoth);
    upstream.on('error', destroyBoth);

    let fate: Fate = { fault: 'pass', offset: 0, delayMs: 0 };
    /** The client's next bytes begin a new exchange (the previous response has begun). */
    let newExchange = true;
    let forwarded = 0;
    /** The connection is being faulted: nothing more goes either way. */
    let dead = false;

    client.on('data', (chunk: Buffer) => {
      if (dead) return;
      if (newExchange) {
        fate = draw(random);
        forwarded = 0;
        newExchange = false;
      }
      upstream.write(chunk);
    });
    client.on('end', () => {
      if (!dead) upstream.end();
    });
    upstream.on('end', () => {
      if (!dead) client.end();
    });

    /** The fault strikes: `head` (the response's bytes up to the offset) is all the client gets. */
    const strike = (fault: 'cut' | 'stall' | 'truncate', head: Buffer) => {
      dead = true;
      stats[fault]++;
      upstream.destroy();
      if (fault === 'cut') {
        // Reset right behind a write, the connection is closed gracefully instead (Node 20 on
        // Linux): send the head, then reset a moment later.
        if (head.length === 0) client.resetAndDestroy();
        else client.write(head, () => later(5, () => client.resetAndDestroy()));
      } else if (fault === 'truncate') {
        client.end(head);
      } else {
        // A stall: the connection stays open and silent until the client gives up or stallMs.
        client.write(head);
        later(stallMs, () => client.destroy());
      }
    };

    const forward = (chunk: Buffer) => {
      const { fault, offset } = fate;
      if (fault === 'cut' || fault === 'stall' || fault === 'truncate') {
        const room = Math.max(offset - forwarded, 0);
        if (room < chunk.length) {
          forwarded += room;
          strike(fault, chunk.subarray(0, room));
          return;
        }
      }
      forwarded += chunk.length;
      client.write(chunk);
    };

    upstream.on('data', (chunk: Buffer) => {
      if (dead) return;
      newExchange = true;
      if (fate.fault === 'delay' && fate.delayMs > 0) {
        // Hold this first chunk (and the rest, by pausing) for the delay, then pass it all.
        const wait = fate.delayMs;
        fate = { ...fate, delayMs: 0 };
        stats.delay++;
        upstream.pause();
        later(wait, () => {
          if (dead || client.destroyed) return;
          forward(chunk);
          upstream.resume();
        });
        return;
      }
      forward(chunk);
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as net.AddressInfo).port;

  return {
    port,
    url: `http://127.0.0.1:${port}`,
    stats,
    setFaultRate(rate: number) {
      faultRate = rate;
    },
    async close() {
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      for (const socket of sockets) socket.destroy();
      sockets.clear();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
