/**
 * Node's sandbox for the views and filter functions of embedded databases: one worker thread
 * with QuickJS, shared by every `Database` of the process that was given no runner of its own,
 * started on first use. Its idle worker does not keep the process alive. Importing this module
 * installs it (the Node entry, the CLI and the test setup do).
 */
import { installDesignRunner } from '../database/queries/design-platform.js';
import { DesignWorkerPool } from './pool.js';

installDesignRunner(() => new DesignWorkerPool());
