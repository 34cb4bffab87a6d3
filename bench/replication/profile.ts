/**
 * CPU profiles of this process around chosen phases only (through the inspector, so warm-up,
 * seeding and PouchDB's phases stay out of them), summarised by self time.
 */
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { join } from 'node:path';
import { formatProfile, type HotFunction, topSelfTime } from '../server/profile.js';

export interface ProfileSummary {
  phase: string;
  file: string;
  busyMs: number;
  top: HotFunction[];
}

export class ClientProfiler {
  private session: Session | undefined;
  readonly summaries: ProfileSummary[] = [];

  constructor(
    private readonly dir: string | undefined,
    private readonly root: string,
  ) {}

  /** Runs `run`, profiled into `<dir>/client-<phase>.cpuprofile` when profiling is on. */
  async around<T>(phase: string, run: () => Promise<T>): Promise<T> {
    if (!this.dir) return run();
    if (!this.session) {
      this.session = new Session();
      this.session.connect();
      await this.session.post('Profiler.enable');
      await this.session.post('Profiler.setSamplingInterval', { interval: 200 });
    }
    await this.session.post('Profiler.start');
    let result: T;
    try {
      result = await run();
    } finally {
      const { profile } = await this.session.post('Profiler.stop');
      const file = join(this.dir, `client-${phase.replace(/[^a-z0-9-]+/gi, '_')}.cpuprofile`);
      writeFileSync(file, JSON.stringify(profile));
      const { totalMs, idleMs, top } = topSelfTime(file, this.root, 25);
      this.summaries.push({ phase, file, busyMs: totalMs - idleMs, top });
      console.error(`client profile of ${phase}:\n${formatProfile(file, this.root, 25)}`);
    }
    return result;
  }

  close(): void {
    this.session?.disconnect();
  }
}
