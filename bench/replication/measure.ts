/**
 * Timing one replication phase: wall time, the server's CPU (from /proc, its own process), this
 * process's CPU, the HTTP requests the client sent (per endpoint), and memory on both sides
 * sampled while it runs (peak, and growth from early to late in the phase: flat or not).
 */
import type { SentRequest } from '../../src/remote/index.js';
import { measured as measuredOnServer, type PhaseFigures as ServerPhaseFigures } from '../server/phases.js';
import { RequestTally } from '../server/requests.js';
import type { ServerProcess } from '../server/servers.js';

/**
 * Counts the requests a RemoteDatabase sends, through its `onRequest` (its own transport stays:
 * a wrapped `fetch` would measure fetch instead).
 */
export class RequestLog extends RequestTally {
  readonly onRequest = ({ method, url }: SentRequest): void => this.record(method, url);
}

export interface MemoryFigures {
  /** Highest RSS seen during the phase, MB. */
  peakMB: number;
}

/** Figures of one timed phase: the server benchmark's, per document, and memory on both sides. */
export interface PhaseFigures extends ServerPhaseFigures {
  requestsPerDoc: number;
  client: MemoryFigures;
  server: MemoryFigures;
}

interface Sample {
  t: number;
  client: number;
  server: number;
}

const SAMPLE_MS = 100;

/** Runs `run` (which replicates `docs` documents) and measures it. */
export async function measured(
  server: ServerProcess,
  counter: RequestTally,
  docs: number,
  run: () => Promise<void>,
): Promise<PhaseFigures> {
  const samples: Sample[] = [];
  const sample = () => {
    try {
      samples.push({
        t: performance.now(),
        client: process.memoryUsage.rss() / 2 ** 20,
        server: server.memory().rssMB,
      });
    } catch {
      // the server is gone: the phase fails on its own
    }
  };
  const figures = await measuredOnServer(server, counter, docs, async () => {
    sample();
    const timer = setInterval(sample, SAMPLE_MS);
    try {
      await run();
    } finally {
      clearInterval(timer);
    }
  });
  sample();
  return {
    ...figures,
    requestsPerDoc: figures.requests / docs,
    client: { peakMB: Math.max(...samples.map((s) => s.client)) },
    server: { peakMB: Math.max(...samples.map((s) => s.server)) },
  };
}

export function describe(what: string, f: PhaseFigures): string {
  return (
    `${what}: ${f.docs} docs in ${(f.ms / 1000).toFixed(1)} s = ${Math.round(f.docsPerSec)} docs/s, ` +
    `server ${f.serverCpuMsPerDoc.toFixed(3)} ms CPU/doc (${f.serverSysMsPerDoc.toFixed(3)} system), ` +
    `client ${f.clientCpuMsPerDoc.toFixed(3)} ms CPU/doc, ${f.requests} requests ` +
    `(${f.requestsPerDoc.toFixed(3)}/doc) ${JSON.stringify(f.endpoints)}; RSS peak client ` +
    `${f.client.peakMB.toFixed(0)} MB, server ${f.server.peakMB.toFixed(0)} MB`
  );
}
