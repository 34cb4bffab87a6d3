/**
 * How IndexedDB writes a batch's records a slice per task of the page's main thread
 * (`sliceStarts`): no task long enough to be noticed (50 ms) for a pulled batch of 500, nor for
 * large documents.
 */
import { describe, expect, it } from 'vitest';
import { sliceStarts, TASK_BUDGET } from '../../src/storage/indexeddb/writes.js';
import { newDoc } from './conformance/helpers.js';

/** `count` new documents whose bodies are about `bytes` long. */
function writesOf(count: number, bytes: number) {
  return Array.from({ length: count }, (_, i) => newDoc(`d${i}`, '1-a', { pad: 'x'.repeat(bytes) }));
}

/** 0, `step`, 2 × `step`, … below `count`. */
const every = (step: number, count: number) =>
  Array.from({ length: Math.ceil(count / step) }, (_, i) => i * step);

describe('sliceStarts', () => {
  it('cuts batches of small documents into tasks of its budget of documents', () => {
    expect(TASK_BUDGET.docs).toBe(25);
    expect(sliceStarts(writesOf(100, 1000))).toEqual(every(25, 100));
    expect(sliceStarts(writesOf(500, 1000))).toEqual(every(25, 500));
  });

  it('cuts by size: fewer large documents per task, one over the budget alone', () => {
    const quarter = TASK_BUDGET.chars / 4;
    expect(sliceStarts(writesOf(9, quarter))).toEqual([0, 3, 6]);
    expect(sliceStarts(writesOf(3, TASK_BUDGET.chars * 2))).toEqual([0, 1, 2]);
  });

  it('counts a write that adds no content (revisions removed) as a document of no bytes', () => {
    const removals = Array.from({ length: 250 }, (_, i) => ({ ...newDoc(`d${i}`), added: [] }));
    expect(sliceStarts(removals)).toEqual(every(TASK_BUDGET.docs, 250));
  });

  it('has no slice for no write', () => {
    expect(sliceStarts([])).toEqual([]);
  });
});
