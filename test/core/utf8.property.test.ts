/**
 * UTF-8 through a kept buffer (core/utf8.ts) against TextEncoder's own: storage sizes and
 * revision hashes are made of these bytes.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { utf8Length, utf8Scratch } from '../../src/core/utf8.js';

const encoder = new TextEncoder();

describe('utf8', () => {
  it('gives the bytes and the length TextEncoder gives, for texts short and long', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 30_000 }), (text) => {
        expect(utf8Scratch(text)).toEqual(encoder.encode(text));
        expect(utf8Length(text)).toBe(encoder.encode(text).length);
      }),
    );
  });

  it('hands out bytes that hold until the next call only, and never a stale tail', () => {
    const long = 'é'.repeat(1000);
    expect(utf8Length(long)).toBe(2000);
    // A shorter text after a longer one: only its own bytes, not the rest of the buffer.
    expect([...utf8Scratch('ab')]).toEqual([0x61, 0x62]);
    // Past the kept buffer's size a text gets a buffer of its own, which the next call leaves alone.
    const huge = 'x'.repeat(70_000);
    const own = utf8Scratch(huge);
    utf8Scratch('y');
    expect(own.length).toBe(70_000);
    expect(own[0]).toBe(0x78);
  });
});
