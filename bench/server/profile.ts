/** Summary of a V8 `.cpuprofile` (from `node --cpu-prof`): the functions with the most self time. */
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface HotFunction {
  name: string;
  where: string;
  selfMs: number;
  share: number;
}

/** Self milliseconds per function (same name and place merged), most first. */
export function topSelfTime(
  file: string,
  root: string,
  count = 25,
): { totalMs: number; idleMs: number; top: HotFunction[] } {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const selfUs = new Map<number, number>();
  // Each sample's time is the delta to the next sample.
  for (let i = 0; i < profile.samples.length; i++) {
    const delta = profile.timeDeltas[i + 1] ?? 0;
    const id = profile.samples[i]!;
    selfUs.set(id, (selfUs.get(id) ?? 0) + delta);
  }
  const merged = new Map<string, HotFunction>();
  let totalUs = 0;
  let idleUs = 0;
  for (const [id, us] of selfUs) {
    const frame = byId.get(id)?.callFrame;
    if (!frame) continue;
    totalUs += us;
    const name = frame.functionName || '(anonymous)';
    if (name === '(idle)') {
      idleUs += us;
      continue;
    }
    const url = frame.url.replace(/^file:\/\//, '');
    const where = url ? `${url.startsWith('/') ? relative(root, url) : url}:${frame.lineNumber + 1}` : '';
    const key = `${name} ${where}`;
    const entry = merged.get(key) ?? { name, where, selfMs: 0, share: 0 };
    entry.selfMs += us / 1000;
    merged.set(key, entry);
  }
  const busyMs = (totalUs - idleUs) / 1000;
  const top = [...merged.values()]
    .sort((a, b) => b.selfMs - a.selfMs)
    .slice(0, count)
    .map((entry) => ({ ...entry, share: busyMs > 0 ? entry.selfMs / busyMs : 0 }));
  return { totalMs: totalUs / 1000, idleMs: idleUs / 1000, top };
}

/** Self time grouped by package or source folder (node_modules/<pkg>, src/<folder>, node:internal). */
export function selfTimeByArea(file: string, root: string): { area: string; selfMs: number }[] {
  const { top } = topSelfTime(file, root, Number.POSITIVE_INFINITY);
  const areas = new Map<string, number>();
  for (const entry of top) {
    const where = entry.where;
    let area = '(native, gc, program)';
    const settee = /^(?:node_modules\/\.cache\/settee-bench-server\/)?(?:src|dist)\/([^/]+)\//.exec(where);
    const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(where);
    if (settee) area = `settee ${settee[1]}/`;
    else if (pkg) area = `node_modules/${pkg[1]}`;
    else if (where.startsWith('node:')) area = 'node: internals';
    else if (where) area = where.split(':')[0]!;
    areas.set(area, (areas.get(area) ?? 0) + entry.selfMs);
  }
  return [...areas.entries()].map(([area, selfMs]) => ({ area, selfMs })).sort((a, b) => b.selfMs - a.selfMs);
}

export function formatProfile(file: string, root: string, count = 25): string {
  const { totalMs, idleMs, top } = topSelfTime(file, root, count);
  const lines = [
    `CPU profile ${relative(root, file)}: ${(totalMs / 1000).toFixed(1)} s sampled, ` +
      `${((totalMs - idleMs) / 1000).toFixed(1)} s busy`,
    '  self ms   share  function  (location)',
  ];
  for (const entry of top) {
    lines.push(
      `  ${entry.selfMs.toFixed(0).padStart(7)}  ${(entry.share * 100).toFixed(1).padStart(5)}%  ${entry.name}  (${entry.where})`,
    );
  }
  lines.push('  by area:');
  for (const { area, selfMs } of selfTimeByArea(file, root).slice(0, 12)) {
    lines.push(`  ${selfMs.toFixed(0).padStart(7)}  ${area}`);
  }
  return lines.join('\n');
}
