/** Numbers in sentences. */

/**
 * `count` and its noun, singular for exactly one.
 *
 * @example
 * counted(1, 'doc'); // '1 doc'
 * counted(3, 'failure'); // '3 failures'
 */
export function counted(count: number, singular: string, plural = `${singular}s`): string {
  return `${count} ${count === 1 ? singular : plural}`;
}
