import { pbkdf2 } from 'node:crypto';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { SetteeError } from '../../src/core/errors.js';
import {
  BUSY_REASON,
  defaultConcurrency,
  HashScheduler,
  type HashSchedulerOptions,
} from '../../src/server/auth/hash-scheduler.js';

const pbkdf2Async = promisify(pbkdf2);

/**
 * A scheduler whose jobs are promises the test settles by hand, so ordering is decided by the
 * test and never by timers. Each job is named; `started` lists names in the order they began.
 */
function harness(options: HashSchedulerOptions) {
  const scheduler = new HashScheduler(options);
  const started: string[] = [];
  const jobs = new Map<string, { settle: (error?: Error) => void; result: Promise<string> }>();
  let peak = 0;

  function submit(source: string, name: string): Promise<string> {
    let settle!: (error?: Error) => void;
    const done = new Promise<string>((resolve, reject) => {
      settle = (error) => (error ? reject(error) : resolve(name));
    });
    const result = scheduler.run(source, () => {
      started.push(name);
      peak = Math.max(peak, scheduler.stats.running);
      return done;
    });
    jobs.set(name, { settle, result });
    return result;
  }

  /** Ends a running job and waits until the scheduler has handed its slot on. */
  async function finish(name: string, error?: Error): Promise<void> {
    // Fail at once, rather than wait forever, when the scheduler has not started the job.
    expect(started, `${name} has not started`).toContain(name);
    const job = jobs.get(name)!;
    job.settle(error);
    await job.result.catch(() => undefined);
  }

  const flood = (source: string, count: number) =>
    Array.from({ length: count }, (_, i) => submit(source, `${source}${i}`));

  return { scheduler, started, submit, finish, flood, peak: () => peak };
}

describe('HashScheduler', () => {
  it('defaults to the cores, leaving a libuv thread free, and refuses bad options', () => {
    expect(new HashScheduler().concurrency).toBe(defaultConcurrency());
    expect(defaultConcurrency()).toBeGreaterThanOrEqual(1);
    expect(new HashScheduler().maxQueuedPerSource).toBe(8);
    expect(() => new HashScheduler({ concurrency: 0 })).toThrow(RangeError);
    expect(() => new HashScheduler({ concurrency: 1.5 })).toThrow(RangeError);
    expect(() => new HashScheduler({ maxQueuedPerSource: -1 })).toThrow(RangeError);
  });

  it('runs at most `concurrency` jobs at once', async () => {
    const { scheduler, started, finish, flood, peak } = harness({ concurrency: 3, maxQueuedPerSource: 100 });
    void flood('a', 6);
    void flood('b', 4);
    expect(started).toHaveLength(3);
    expect(scheduler.stats).toEqual({ running: 3, queued: 7 });
    while (started.length < 10) await finish(started[started.length - 3]!);
    expect(peak()).toBe(3);
    for (const name of started.slice(-3)) await finish(name);
    expect(scheduler.stats).toEqual({ running: 0, queued: 0 });
  });

  it('gives a newcomer the next free slot, ahead of a flood', async () => {
    const { started, submit, finish, flood } = harness({ concurrency: 2, maxQueuedPerSource: 100 });
    void flood('a', 10);
    void submit('b', 'b0');
    expect(started).toEqual(['a0', 'a1']);
    await finish('a0');
    expect(started).toEqual(['a0', 'a1', 'b0']);
    // Once b has nothing waiting, a's queue drains in its own order.
    for (let i = 1; i < 10; i++) await finish(`a${i}`);
    await finish('b0');
    expect(started).toEqual(['a0', 'a1', 'b0', ...Array.from({ length: 8 }, (_, i) => `a${i + 2}`)]);
  });

  it('lets two floods take turns, and a third source in one turn behind at most', async () => {
    const { started, submit, finish, flood } = harness({ concurrency: 2, maxQueuedPerSource: 100 });
    void flood('a', 6);
    void flood('b', 6);
    expect(started).toEqual(['a0', 'a1']);
    await finish('a0'); // b has had no turn yet
    await finish('a1'); // a and b have had equal turns; a runs nothing now
    expect(started).toEqual(['a0', 'a1', 'b0', 'a2']);
    void submit('c', 'c0');
    await finish('b0'); // b and c are owed a turn alike; b was waiting first
    expect(started.at(-1)).toBe('b1');
    await finish('a2'); // c's turn, ahead of both floods' queues
    expect(started.at(-1)).toBe('c0');
  });

  it('gives a source no credit for the time it had nothing queued', async () => {
    const { started, submit, finish, flood } = harness({ concurrency: 2, maxQueuedPerSource: 100 });
    void submit('b', 'b-long'); // holds one slot throughout
    void flood('a', 9);
    for (let i = 0; i < 5; i++) await finish(`a${i}`); // a takes five turns while b queues nothing
    void flood('b', 3);
    for (const name of ['a5', 'b0', 'a6', 'b1', 'a7', 'b2']) await finish(name);
    // From the moment it queues, b alternates with a: no five turns in a row to "catch up".
    expect(started.slice(started.indexOf('a5'))).toEqual(['a5', 'b0', 'a6', 'b1', 'a7', 'b2', 'a8']);
  });

  it('refuses a job over the per-source cap at once, without running it', async () => {
    const { scheduler, started, submit, finish } = harness({ concurrency: 1, maxQueuedPerSource: 2 });
    void submit('a', 'a0');
    void submit('a', 'a1');
    void submit('a', 'a2');
    let ran = false;
    const refused = scheduler.run('a', async () => {
      ran = true;
    });
    const err = await refused.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(SetteeError);
    expect((err as SetteeError).toJSON()).toEqual({ error: 'unavailable', reason: BUSY_REASON });
    expect((err as SetteeError).status).toBe(503);
    expect(ran).toBe(false);
    expect(scheduler.stats).toEqual({ running: 1, queued: 2 });
    // Other sources are not capped by a's queue, and a may queue again once it has room.
    void submit('b', 'b0');
    await finish('a0');
    expect(started).toEqual(['a0', 'b0']);
    await finish('b0'); // a1 starts, so a has room for one more
    void submit('a', 'a3');
    expect(scheduler.stats).toEqual({ running: 1, queued: 2 });
    expect(started).toEqual(['a0', 'b0', 'a1']);
  });

  it('with maxQueuedPerSource 0, refuses whatever cannot start now', async () => {
    const { scheduler, submit } = harness({ concurrency: 1, maxQueuedPerSource: 0 });
    void submit('a', 'a0');
    await expect(scheduler.run('b', async () => 1)).rejects.toMatchObject({ error: 'unavailable' });
  });

  it('passes results and errors through, and a failed job frees its slot', async () => {
    const { scheduler, started, submit, finish } = harness({ concurrency: 1, maxQueuedPerSource: 10 });
    const first = submit('a', 'a0');
    const second = submit('a', 'a1');
    const thrower = scheduler.run('b', () => {
      throw new Error('thrown before any await');
    });
    const third = submit('a', 'a2');
    await finish('a0', new Error('boom'));
    await expect(first).rejects.toThrow('boom');
    expect(started).toEqual(['a0', 'a1']);
    await finish('a1');
    await expect(second).resolves.toBe('a1');
    await expect(thrower).rejects.toThrow('thrown before any await');
    expect(started).toEqual(['a0', 'a1', 'a2']); // the throwing job's slot went on to a2
    await finish('a2');
    await expect(third).resolves.toBe('a2');
    expect(scheduler.stats).toEqual({ running: 0, queued: 0 });
  });

  it('with real PBKDF2: an admin behind 16 queued attacker hashes is served within a slot or two', async () => {
    const concurrency = 2;
    const hash = () => pbkdf2Async('wrong password', 'salt', 100_000, 32, 'sha256');
    const scheduler = new HashScheduler({ concurrency, maxQueuedPerSource: 16 });
    const events: string[] = [];
    // The first `concurrency` start at once; the 16 after them queue.
    const attacker = Array.from({ length: concurrency + 16 }, (_, i) =>
      scheduler.run('attacker', async () => {
        await hash();
        events.push(i < concurrency ? 'running attacker done' : 'queued attacker done');
      }),
    );
    expect(scheduler.stats).toEqual({ running: concurrency, queued: 16 });
    const admin = scheduler.run('admin', async () => {
      events.push('admin started');
      await hash();
      events.push('admin done');
    });
    await admin;
    await Promise.all(attacker);

    const before = (event: string) => events.slice(0, events.indexOf(event));
    // The admin takes the first slot that frees: one running hash ends, then it starts. This is
    // the scheduler's own doing, so it holds exactly.
    expect(before('admin started')).toEqual(['running attacker done']);
    // After that it only races the hashes beside it. Of the 16 that were queued when it arrived,
    // at most the one started next to it can finish first (two, should the OS favour the
    // attacker's thread); without the fair queue all 16 would.
    expect(
      before('admin done').filter((event) => event === 'queued attacker done').length,
    ).toBeLessThanOrEqual(2);
  });
});
