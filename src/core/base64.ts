import { badRequest } from './errors.js';

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

type BufferLike = {
  from(data: string | Uint8Array, encoding?: string): Uint8Array & { toString(enc: string): string };
};
// Node's Buffer is much faster than atob/btoa on large attachments; browsers fall back to them.
const NodeBuffer = (globalThis as { Buffer?: BufferLike }).Buffer;

/** Decodes strict base64 (whitespace tolerated, as MIME encoders wrap lines). */
export function decodeBase64(text: string, what: string): Uint8Array {
  const compact = text.replace(/\s+/g, '');
  if (compact.length % 4 !== 0 || !BASE64.test(compact)) throw badRequest(`Invalid base64 data for ${what}`);
  if (NodeBuffer) return new Uint8Array(NodeBuffer.from(compact, 'base64'));
  const raw = atob(compact);
  const bytes = new Uint8Array(raw.length);
  for (let i = 0; i < raw.length; i++) bytes[i] = raw.charCodeAt(i);
  return bytes;
}

export function encodeBase64(bytes: Uint8Array): string {
  if (NodeBuffer) return NodeBuffer.from(bytes).toString('base64');
  let raw = '';
  for (let i = 0; i < bytes.length; i += 0x8000) raw += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(raw);
}
