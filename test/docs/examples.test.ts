/**
 * Every example of README.md and docs/*.md runs as written (the convention is in
 * docs/writing-docs.md). Each guide gets a working folder and, when its examples talk to
 * `127.0.0.1:5984`, a Settee server of its own (admin `admin`, password `secret`) on a free port;
 * its examples run in order, so a later one may use what an earlier one made.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, type ExpectStatic, it } from 'vitest';
import { startServer, type TestServer } from '../server/harness.js';
import { type CodeBlock, codeBlocks } from './markdown.js';
import { EXAMPLE_BOUND_MS, freePort, onPort, type Outcome, Workspace } from './run-example.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const GUIDES = [
  'README.md',
  ...fs
    .readdirSync(path.join(ROOT, 'docs'))
    .filter((name) => name.endsWith('.md'))
    .sort()
    .map((name) => `docs/${name}`),
];

/** What one test runs: a module (a ts/js block and the blocks that continue it) or a shell block. */
interface Step {
  lines: number[];
  block: CodeBlock;
  code: string;
}

/** A guide's runnable blocks as steps in order, continuations joined to the module they continue. */
function stepsOf(blocks: CodeBlock[]): Step[] {
  const steps: Step[] = [];
  for (const block of blocks) {
    if (block.mode.kind === 'not-run' || block.mode.kind === 'output') continue;
    if (block.mode.kind !== 'continues') {
      steps.push({ lines: [block.line], block, code: block.code });
      continue;
    }
    // The module it continues runs here, after every step above, with this block appended.
    const continued = steps.findLastIndex((step) => step.block.mode.kind === 'module');
    if (continued < 0) throw new Error(`line ${block.line}: <!-- continues --> needs a ts/js block above`);
    const [module] = steps.splice(continued, 1);
    steps.push({ ...module!, lines: [...module!.lines, block.line], code: module!.code + block.code });
  }
  return steps;
}

/** A block that starts a server of its own listens on a port of its own, never on the guide's. */
const startsServer = (code: string) => /\bsettee serve\b|\bnpm start\b/.test(code);

function explain(step: Step, outcome: Outcome): string {
  const where = `line ${step.lines.join(', ')}`;
  const why = outcome.timedOut ? `still running after ${EXAMPLE_BOUND_MS} ms` : `exit status ${outcome.code}`;
  return `${where}: ${why}\n${outcome.output}`;
}

/**
 * A port found free can be taken by another test before an example's server binds it: that
 * example then cannot listen, through no fault of its own, and runs again on another port.
 */
const PORT_TAKEN = /another program listens there already|EADDRINUSE/;
const PORT_ATTEMPTS = 3;

/** Runs one step in the guide's workspace, its server addresses moved to the right port. */
async function runStep(
  expect: ExpectStatic,
  workspace: Workspace,
  step: Step,
  server: TestServer | undefined,
): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    const { passed, outcome } = await attemptStep(workspace, step, server);
    const retry = !passed && startsServer(step.code) && PORT_TAKEN.test(outcome.output);
    if (retry && attempt < PORT_ATTEMPTS) continue;
    expect.soft(passed, explain(step, outcome)).toBe(true);
    return;
  }
}

/** One run of a step: a server block passes once it prints its text, any other by exiting 0. */
async function attemptStep(
  workspace: Workspace,
  step: Step,
  server: TestServer | undefined,
): Promise<{ passed: boolean; outcome: Outcome }> {
  const port = startsServer(step.code) ? await freePort() : server?.url.split(':').at(-1);
  const local = (text: string) => (port === undefined ? text : onPort(text, Number(port)));
  const { mode } = step.block;
  if (mode.kind === 'shell-until') {
    const outcome = await workspace.runShell(local(step.code), local(mode.text));
    return { passed: outcome.reached, outcome };
  }
  const name = mode.kind === 'file' ? mode.name : `example-${step.lines[0]}.ts`;
  const outcome =
    mode.kind === 'shell'
      ? await workspace.runShell(local(step.code))
      : await workspace.runModule(name, local(step.code));
  return { passed: outcome.code === 0, outcome };
}

// Guides run side by side; the examples of one guide run in order, in one workspace.
describe.concurrent('every example of the guides runs as written', () => {
  // Bounded by its examples' bounds; with load-free cores the whole file takes well under a minute.
  it.for(GUIDES)('%s', { timeout: 120_000 }, async (guide, { expect }) => {
    const steps = stepsOf(codeBlocks(fs.readFileSync(path.join(ROOT, guide), 'utf8')));
    const workspace = Workspace.create();
    const server = steps.some((step) => step.code.includes(':5984')) ? await startServer() : undefined;
    try {
      for (const step of steps) await runStep(expect, workspace, step, server);
    } finally {
      await server?.stop();
      workspace.remove();
    }
  });
});
