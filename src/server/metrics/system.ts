/**
 * `GET /_node/_local/_system`: the process's health, with CouchDB's keys where they apply
 * (chttpd_node.erl, get_stats: `uptime` in whole seconds, `memory` in bytes by kind) and the
 * first sign of a server with more work than it can do, the event loop's recent delay.
 */
import { createHistogram, performance, type RecordableHistogram } from 'node:perf_hooks';

/**
 * How often the event loop's delay is sampled (ms): one timer per server. At 20 ms its fifty
 * wake-ups a second cost an idle server 3.5 ms of CPU a second (docs/scale-out.md).
 */
const SAMPLE_MS = 100;

/**
 * The delay is shown over the last one to two windows of this length: a server busy now shows it
 * at once however long it idled before, and a stall leaves the figures within two windows.
 */
const WINDOW_MS = 60_000;

export interface SystemFigures {
  /** Seconds since the server started. */
  uptime: number;
  /** `process.memoryUsage()` in bytes, its keys in CouchDB's spelling. */
  memory: Record<'rss' | 'heap_total' | 'heap_used' | 'external' | 'array_buffers', number>;
  /** How late the event loop ran its timers over the last one to two minutes, in milliseconds. */
  event_loop_delay: Record<'min' | 'max' | 'mean' | 'stddev' | 'p50' | 'p90' | 'p99', number>;
}

export class SystemMonitor {
  private readonly startedAt = Date.now();
  private readonly delay: DelayWindows;

  /** @param windowMs how long a window of the event loop's delay lasts (tests shorten it) */
  constructor(windowMs = WINDOW_MS) {
    this.delay = new DelayWindows(windowMs);
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
    this.delay.stop();
  }

  private delayFigures(): SystemFigures['event_loop_delay'] {
    const delay = this.delay.histogram();
    // Before its first sample a histogram's min is its largest value: show zeros instead.
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

/**
 * The event loop's delay, sampled by a timer that notes how late it runs, in two windows: the
 * current one and the one before. (Node's `monitorEventLoopDelay` samples the same way, but its
 * histogram can be neither merged with another nor split in time.)
 */
class DelayWindows {
  private current: RecordableHistogram = createHistogram();
  private previous: RecordableHistogram = createHistogram();
  private readonly timer: NodeJS.Timeout;
  private due = performance.now() + SAMPLE_MS;
  private windowStart = performance.now();

  constructor(windowMs: number) {
    this.timer = setInterval(() => {
      const now = performance.now();
      // In nanoseconds, at least 1 (a histogram records positive integers only).
      this.current.record(Math.max(1, Math.round((now - this.due) * 1e6)));
      this.due = now + SAMPLE_MS;
      // By the clock, not by samples: late samples, when they matter most, would stretch a window.
      if (now - this.windowStart >= windowMs) {
        [this.previous, this.current] = [this.current, createHistogram()];
        this.windowStart = now;
      }
    }, SAMPLE_MS);
    // A server's metrics never keep its process alive.
    this.timer.unref();
  }

  /** The delays of both windows. */
  histogram(): RecordableHistogram {
    const both = createHistogram();
    both.add(this.previous);
    both.add(this.current);
    return both;
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
