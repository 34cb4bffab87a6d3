/**
 * Where the JavaScript of views and filters runs for `Database`s that were not given a runner:
 * installed by each platform's entry, as storage is (`storage/platform.ts`), so the database layer
 * imports no sandbox and nothing of Node. Node installs a shared pool of worker threads
 * (`design/install-node.ts`); a page will install its own.
 */
import { SetteeError } from '../../core/errors.js';
import type { DesignRunner } from '../../design/runner.js';

let installed: (() => DesignRunner) | undefined;
let shared: DesignRunner | undefined;

/** Makes `create` give the runner of every database opened without one (created on first use). */
export function installDesignRunner(create: () => DesignRunner): void {
  installed = create;
  shared = undefined;
}

/** The platform's runner, created the first time a view or a filter function needs it. */
export function platformDesignRunner(): DesignRunner {
  if (!installed) {
    throw new SetteeError(
      'not_implemented',
      'No JavaScript sandbox is installed here for views and filter functions: import Settee ' +
        'through its Node entry, or give the database a design runner',
    );
  }
  shared ??= installed();
  return shared;
}
