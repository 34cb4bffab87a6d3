/**
 * The streaming JSON parser (`@streamparser/json`, 24 KB minified) is fetched when a remote
 * answer first needs it — a `_changes` feed read row by row, a cut-short body told from a bad
 * one — rather than with the page: a browser bundler puts it in a chunk of its own.
 */
import { onDemand } from '../core/on-demand.js';

/** The parser class, imported on the first call. */
export const loadJsonParser = onDemand(
  async () => (await import('@streamparser/json/jsonparser.js')).default,
);
