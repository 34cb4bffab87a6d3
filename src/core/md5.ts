/**
 * MD5 (RFC 1321), which CouchDB's revision ids, attachment digests and replication ids are made
 * of. Our own few lines rather than a package: spark-md5's strings, incremental hashing and
 * ArrayBuffer API were a fifth of what a page loads up front, and all we hash is bytes. Node hashes
 * with its own (below); both give the same digests (test/core/md5.property.test.ts), so the same
 * revision ids come out in Node and in browsers.
 */
import { encodeBase64 } from './base64.js';
import { utf8Scratch } from './utf8.js';

/** What of `node:crypto` hashing needs: its one-shot `hash` (Node ≥ 20.12). */
interface NodeCrypto {
  hash(algorithm: 'md5', data: string, outputEncoding: 'hex'): string;
  hash(algorithm: 'md5', data: Uint8Array, outputEncoding: 'buffer'): Uint8Array;
}

/**
 * Node's OpenSSL MD5, about ten times faster than ours on a revision's few hundred bytes (every
 * write hashes its body). Fetched with `process.getBuiltinModule` (Node ≥ 20.16), not imported:
 * the browser entry's import graph must hold no Node built-in, and in a page there is no
 * `process`, so ours runs there.
 */
const nodeCrypto = (
  globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }
).process?.getBuiltinModule?.('node:crypto') as NodeCrypto | undefined;

/**
 * Per-step additive constants: the integer part of |sin(i + 1)| × 2³² (RFC 1321). Computed, not
 * tabulated (700 bytes a page loads): engines may round `Math.sin` differently in its last bits,
 * but none of the 64 products lies within 0.015 of an integer, 30,000 times a last bit's worth
 * (2⁻²¹), so every engine truncates them alike. The RFC's test vectors check the table.
 */
const SINES = Int32Array.from({ length: 64 }, (_, i) => Math.abs(Math.sin(i + 1)) * 2 ** 32);
/** Left-rotation amounts: four per round of sixteen steps. */
const ROTATIONS = [7, 12, 17, 22, 5, 9, 14, 20, 4, 11, 16, 23, 6, 10, 15, 21];
/** Per step: the word of the block it adds (RFC 1321's order in each round) and its rotation. */
const WORDS = Uint8Array.from({ length: 64 }, (_, step) => {
  const round = step >> 4;
  return (round === 0 ? step : round === 1 ? 5 * step + 1 : round === 2 ? 3 * step + 5 : 7 * step) & 15;
});
const SHIFTS = Uint8Array.from({ length: 64 }, (_, step) => ROTATIONS[(step >> 4) * 4 + (step & 3)]!);
/** The block being compressed, as words: read once per block rather than once per step. */
const BLOCK = new Int32Array(16);

/** The 16-byte MD5 digest of `bytes`: Node's own where it has one, ours elsewhere — the same bytes. */
export function md5(bytes: Uint8Array): Uint8Array {
  return nodeCrypto ? nodeCrypto.hash('md5', bytes, 'buffer') : portableMd5(bytes);
}

/** The 16-byte MD5 digest of `bytes`, in JavaScript: what a page runs. */
export function portableMd5(bytes: Uint8Array): Uint8Array {
  const state = Int32Array.of(0x67452301, 0xefcdab89 | 0, 0x98badcfe | 0, 0x10325476);
  const whole = bytes.length - (bytes.length % 64);
  const input = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let offset = 0; offset < whole; offset += 64) compress(state, input, offset);
  // The tail, a 1 bit, zeros, and the length in bits (little-endian, 64 bits): one or two blocks.
  const tail = new Uint8Array(bytes.length % 64 < 56 ? 64 : 128);
  tail.set(bytes.subarray(whole));
  tail[bytes.length - whole] = 0x80;
  const padding = new DataView(tail.buffer);
  padding.setUint32(tail.length - 8, (bytes.length * 8) >>> 0, true);
  padding.setUint32(tail.length - 4, Math.floor(bytes.length / 0x20000000), true);
  for (let offset = 0; offset < tail.length; offset += 64) compress(state, padding, offset);
  const digest = new Uint8Array(16);
  const words = new DataView(digest.buffer);
  state.forEach((word, i) => words.setInt32(i * 4, word, true));
  return digest;
}

/** One 64-byte block into `state`: four rounds of sixteen steps (RFC 1321, section 3.4). */
function compress(state: Int32Array, data: DataView, offset: number): void {
  for (let i = 0; i < 16; i++) BLOCK[i] = data.getInt32(offset + i * 4, true);
  let a = state[0]!;
  let b = state[1]!;
  let c = state[2]!;
  let d = state[3]!;
  for (let step = 0; step < 64; step++) {
    const mixed =
      step < 16 ? (b & c) | (~b & d) : step < 32 ? (d & b) | (~d & c) : step < 48 ? b ^ c ^ d : c ^ (b | ~d);
    const sum = (a + mixed + SINES[step]! + BLOCK[WORDS[step]!]!) | 0;
    const rotation = SHIFTS[step]!;
    a = d;
    d = c;
    c = b;
    b = (b + ((sum << rotation) | (sum >>> (32 - rotation)))) | 0;
  }
  state[0]! += a;
  state[1]! += b;
  state[2]! += c;
  state[3]! += d;
}

/** MD5 of a string's UTF-8 bytes, as 32 lowercase hex characters. */
export function md5Hex(text: string): string {
  return nodeCrypto ? nodeCrypto.hash('md5', text, 'hex') : portableMd5Hex(text);
}

/** `md5Hex` in JavaScript: what a page runs. */
export function portableMd5Hex(text: string): string {
  let hex = '';
  for (const byte of portableMd5(utf8Scratch(text))) hex += HEX[byte];
  return hex;
}

const HEX = Array.from({ length: 256 }, (_, byte) => byte.toString(16).padStart(2, '0'));

/** CouchDB's attachment digest: `"md5-" + base64(md5(bytes))`. */
export function attachmentDigest(bytes: Uint8Array): string {
  return `md5-${encodeBase64(md5(bytes))}`;
}
