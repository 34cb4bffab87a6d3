/**
 * What the browser benchmark needs besides the page: the page's bundle (readable function names
 * when profiling) and CPU profiles of the page's main thread through Chromium's DevTools
 * protocol, summarized as the other benchmarks summarize Node's (`bench/server/profile.ts`).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';
import type { Page } from 'playwright-core';
import { formatProfile } from '../server/profile.js';

/** `entry` bundled as one IIFE setting `globalName`; unminified, so a profile names functions. */
export async function pageBundle(
  root: string,
  entry: string,
  globalName: string,
  minify: boolean,
): Promise<string> {
  const result = await build({
    entryPoints: [entry],
    absWorkingDir: root,
    bundle: true,
    platform: 'browser',
    format: 'iife',
    globalName,
    target: 'es2022',
    minify,
    keepNames: !minify,
    write: false,
    logLevel: 'silent',
  });
  return result.outputFiles[0]!.text;
}

/**
 * Runs `work` under the DevTools CPU profiler of `page`, writes `<dir>/<name>.cpuprofile` and
 * returns its summary (self time by function and by area) with the work's result.
 */
export async function profiled<T>(
  page: Page,
  root: string,
  dir: string,
  name: string,
  work: () => Promise<T>,
): Promise<{ result: T; summary: string }> {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Profiler.enable');
  await cdp.send('Profiler.setSamplingInterval', { interval: 250 });
  await cdp.send('Profiler.start');
  try {
    const result = await work();
    const { profile } = await cdp.send('Profiler.stop');
    const file = join(dir, `${name}.cpuprofile`);
    writeFileSync(file, JSON.stringify(profile));
    return { result, summary: formatProfile(file, root, 30) };
  } finally {
    await cdp.detach();
  }
}
