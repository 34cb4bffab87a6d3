/**
 * Our MD5 (core/md5.ts, which replaced spark-md5 to keep the browser entry small; what pages run)
 * against Node's OpenSSL one (what Node runs): revision ids, attachment digests and replication
 * ids are made of it, so one differing bit would fork every replica that hashes with the other.
 */
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { attachmentDigest, md5, md5Hex, portableMd5, portableMd5Hex } from '../../src/core/md5.js';

const openssl = (bytes: Uint8Array) => createHash('md5').update(bytes).digest();

describe('md5', () => {
  it('equals OpenSSL on random bytes, across the padding edges (55, 56, 63, 64 bytes, …)', () => {
    for (let length = 0; length <= 200; length++) {
      const bytes = Uint8Array.from({ length }, (_, i) => (i * 131 + length) & 0xff);
      expect(Buffer.from(portableMd5(bytes))).toEqual(openssl(bytes));
    }
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 3000 }), (bytes) => {
        expect(Buffer.from(portableMd5(bytes))).toEqual(openssl(bytes));
        expect(Buffer.from(md5(bytes))).toEqual(openssl(bytes));
      }),
    );
  });

  it('hashes a view of a larger buffer, not the whole buffer', () => {
    const buffer = Uint8Array.from({ length: 1000 }, (_, i) => i & 0xff);
    const view = buffer.subarray(7, 907);
    expect(Buffer.from(portableMd5(view))).toEqual(openssl(view));
    expect(Buffer.from(md5(view))).toEqual(openssl(view));
  });

  it("hashes a string's UTF-8 bytes, and digests attachments as CouchDB does", () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme' }), (text) => {
        const expected = createHash('md5').update(text, 'utf8').digest('hex');
        expect(portableMd5Hex(text)).toBe(expected);
        expect(md5Hex(text)).toBe(expected);
      }),
    );
    // The RFC 1321 test suite's last vector, and CouchDB's "md5-" + base64 digest of it.
    const digits = '1234567890'.repeat(8);
    expect(portableMd5Hex(digits)).toBe('57edf4a22be3c955ac49da2e2107b67a');
    expect(md5Hex(digits)).toBe('57edf4a22be3c955ac49da2e2107b67a');
    expect(attachmentDigest(new TextEncoder().encode(digits))).toBe(
      `md5-${createHash('md5').update(digits).digest('base64')}`,
    );
  });
});
