import SparkMD5 from 'spark-md5';

/** MD5 of a string's UTF-8 bytes, as 32 lowercase hex characters. Pure JS: runs in browsers too. */
export function md5Hex(text: string): string {
  return SparkMD5.hash(text);
}

/** CouchDB's attachment digest: `"md5-" + base64(md5(bytes))`. */
export function attachmentDigest(bytes: Uint8Array): string {
  const copy = bytes.slice().buffer as ArrayBuffer;
  const raw = SparkMD5.ArrayBuffer.hash(copy, true);
  return `md5-${btoa(raw)}`;
}
