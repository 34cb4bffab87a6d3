/**
 * `GET /_node/_local/_system`: the process's health, with CouchDB's keys where they apply
 * (chttpd_node.erl, get_stats: `uptime` in whole seconds, `memory` in bytes by kind) and Node's
 * own measure of a busy server, the event loop's delay.
 */
import { type IntervalHistogram, monitorEventLoopDelay } from 'node:perf_hooks';

/**
 * How often the event loop's delay is sampled (ms): one timer per server. At 20 ms its fifty
 * wake-ups a second cost an idle server 3.5 ms of CPU a second (docs/scale-out.md).
 */
const SAMPLE_MS = 100;

export interface SystemFigures {
  /** Seconds since the server started. */
  uptime: number;
  /** `process.memoryUsage()` in bytes, its keys in CouchDB's spelling. */
  memory: Record<'rss' | 'heap_total' | 'heap_used' | 'external' | 'array_buffers', number>;
  /** How late the event loop ran its timers since the server started, in milliseconds. */
  event_loop_delay: Record<'min' | 'max' | 'mean' | 'stddev' | 'p50' | 'p90' | 'p99', number>;
}

export class SystemMonitor {
  private readonly startedAt = Date.now();
  private readonly delay: IntervalHistogram = monitorEventLoopDelay({ resolution: SAMPLE_MS });

  constructor() {
    this.delay.enable();
  }

  figures(): SystemFigures {
    const memory = process.memoryUsage();
    return {
      uptime: Math.floor((Date.now() - this.startedAt) / 1000),
      memory: {
        rss: memory.rss,
        heap_total: memory.heapTotal,
        heap_used: memory.heapUsed,
        external: memory.external,
        array_buffers: memory.arrayBuffers,
      },
      event_loop_delay: this.delayFigures(),
    };
  }

  /** Stops sampling: the server is closing. */
  stop(): void {
    this.delay.disable();
  }

  private delayFigures(): SystemFigures['event_loop_delay'] {
    const { delay } = this;
    // Before its first sample the histogram's min is its largest value: show zeros instead.
    if (delay.count === 0) return { min: 0, max: 0, mean: 0, stddev: 0, p50: 0, p90: 0, p99: 0 };
    const ms = (nanoseconds: number) => Math.round(nanoseconds / 1e3) / 1e3;
    return {
      min: ms(delay.min),
      max: ms(delay.max),
      mean: ms(delay.mean),
      stddev: ms(delay.stddev),
      p50: ms(delay.percentile(50)),
      p90: ms(delay.percentile(90)),
      p99: ms(delay.percentile(99)),
    };
  }
}
