import { describe, expect, it } from 'vitest';
import { SystemMonitor } from '../../src/server/metrics/system.js';

const STALL_MS = 250;
const WINDOW_MS = 300;

/** Waits, a timer's turn at a time, until `done` holds (at most `turns` turns). */
async function until(done: () => boolean, turns: number): Promise<boolean> {
  for (let turn = 0; turn < turns && !done(); turn++) await new Promise((resolve) => setTimeout(resolve, 50));
  return done();
}

describe('the event loop delay of /_node/_local/_system', () => {
  it('shows a stall at once, and leaves it behind after two windows', async () => {
    const monitor = new SystemMonitor(WINDOW_MS);
    try {
      const maxDelay = () => monitor.figures().event_loop_delay.max;
      // The process's own event loop, held on purpose.
      const stalled = performance.now();
      while (performance.now() - stalled < STALL_MS);
      expect(await until(() => maxDelay() >= STALL_MS / 2, 40)).toBe(true);
      expect(await until(() => maxDelay() < STALL_MS / 2, 100)).toBe(true);
      const { event_loop_delay: delay } = monitor.figures();
      expect(delay.min).toBeLessThanOrEqual(delay.p50);
      expect(delay.p99).toBeLessThanOrEqual(delay.max);
    } finally {
      monitor.stop();
    }
  });

  it('shows zeros before its first sample', () => {
    const monitor = new SystemMonitor();
    monitor.stop();
    expect(monitor.figures().event_loop_delay).toEqual({
      min: 0,
      max: 0,
      mean: 0,
      stddev: 0,
      p50: 0,
      p90: 0,
      p99: 0,
    });
  });
});
