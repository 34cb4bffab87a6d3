/**
 * Every error of the catalogue is documented in docs/errors.md: CouchDB's names with their HTTP
 * status, and each exported error class, each with a sentence saying when it happens. A new
 * name or class without its row fails here.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import * as conflictsClock from '../../src/conflicts/hlc.js';
import * as coreErrors from '../../src/core/errors.js';
import * as designErrors from '../../src/design/errors.js';
import * as remoteErrors from '../../src/remote/errors.js';
import * as checkpointer from '../../src/replication/checkpointer.js';

const DOC = fs.readFileSync(path.resolve(import.meta.dirname, '../../docs/errors.md'), 'utf8');

/** The rows of the guide's tables: `| \`name\` | status | when |`. */
const rows = new Map(
  [...DOC.matchAll(/^\|\s*`(\w+)`\s*\|\s*([^|]*?)\s*\|\s*([^|]*?)\s*\|$/gm)].map((m) => [
    m[1]!,
    { status: m[2]!, when: m[3]! },
  ]),
);

/** The error classes a module exports, by name. */
function errorClasses(module: Record<string, unknown>): string[] {
  return Object.entries(module)
    .filter(([, value]) => typeof value === 'function' && value.prototype instanceof Error)
    .map(([name]) => name);
}

describe('docs/errors.md', () => {
  it.each(Object.entries(coreErrors.ERROR_STATUS))('documents %s with status %i', (name, status) => {
    expect(rows.get(name)?.status).toBe(String(status));
    expect(rows.get(name)?.when.length).toBeGreaterThan(10);
  });

  const classes = [remoteErrors, designErrors, checkpointer, conflictsClock]
    .flatMap((module) => errorClasses(module))
    .concat(errorClasses(coreErrors).filter((name) => name !== 'SetteeError'));
  it.each(classes)('documents the error class %s', (name) => {
    expect(rows.get(name)?.when.length).toBeGreaterThan(10);
  });

  it('finds the classes it checks (the test is not vacuous)', () => {
    expect(classes).toEqual(
      expect.arrayContaining(['RemoteError', 'PeerUnreachableError', 'SandboxCompileError']),
    );
  });
});
