/**
 * For the TLS tests: self-signed certificates made with the `openssl` command, and clients that
 * trust them — HTTP/1.1 (node:https), HTTP/2 (node:http2) and a bare TLS handshake.
 */
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import fs from 'node:fs';
import https from 'node:https';
import http2 from 'node:http2';
import path from 'node:path';
import tls from 'node:tls';

export interface TestCertificate {
  certFile: string;
  keyFile: string;
  cert: Buffer;
  key: Buffer;
  /** SHA-256 fingerprint, as `getPeerCertificate().fingerprint256` shows it. */
  fingerprint: string;
}

/** A self-signed P-256 certificate for 127.0.0.1 and localhost, valid for a day, in `dir/name.*`. */
export function makeCertificate(dir: string, name: string): TestCertificate {
  const certFile = path.join(dir, `${name}.crt`);
  const keyFile = path.join(dir, `${name}.key`);
  execFileSync(
    'openssl',
    [
      ...['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'],
      ...['-keyout', keyFile, '-out', certFile, '-days', '1', '-subj', `/CN=${name}`],
      ...['-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost'],
    ],
    { stdio: 'ignore' },
  );
  const cert = fs.readFileSync(certFile);
  return { certFile, keyFile, cert, key: fs.readFileSync(keyFile), fingerprint: fingerprintOf(cert) };
}

export const fingerprintOf = (cert: Buffer): string => new X509Certificate(cert).fingerprint256;

export interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/** The answer's body as JSON. */
export const jsonOf = (answer: Answer): Record<string, unknown> =>
  JSON.parse(answer.body.toString('utf8')) as Record<string, unknown>;

export interface RequestInit {
  method?: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
}

/** One HTTP/1.1 request over TLS; `agent` keeps the connection for the next one. */
export function h1Request(
  url: string,
  ca: Buffer,
  target: string,
  init: RequestInit = {},
  agent?: https.Agent,
): Promise<Answer & { httpVersion: string; alpn: string | false | null }> {
  return new Promise((resolve, reject) => {
    const request = https.request(
      `${url}${target}`,
      {
        method: init.method ?? 'GET',
        headers: init.headers,
        ca,
        // Offered as a browser would, so the server picks by ALPN rather than by its absence.
        ALPNProtocols: ['http/1.1'],
        ...(agent ? { agent } : {}),
      } as https.RequestOptions,
      (response) => {
        // Read now: the socket is handed back to the agent (or gone) once the body ends.
        const alpn = (response.socket as tls.TLSSocket).alpnProtocol;
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('error', reject);
        response.on('end', () =>
          resolve({
            status: response.statusCode!,
            headers: response.headers,
            body: Buffer.concat(chunks),
            httpVersion: response.httpVersion,
            alpn,
          }),
        );
      },
    );
    request.on('error', reject);
    request.end(init.body);
  });
}

/** An HTTP/2 session to the server, trusting `ca`; resolves once connected. */
export function h2Connect(url: string, ca: Buffer): Promise<http2.ClientHttp2Session> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(url, { ca });
    session.once('connect', () => resolve(session));
    session.once('error', reject);
  });
}

/** Opens one HTTP/2 stream: the request is sent, the answer not yet read. */
export function h2Open(
  session: http2.ClientHttp2Session,
  target: string,
  init: RequestInit = {},
): http2.ClientHttp2Stream {
  const stream = session.request({ ':method': init.method ?? 'GET', ':path': target, ...init.headers });
  stream.end(init.body);
  return stream;
}

/** One whole HTTP/2 request and its answer. */
export function h2Request(
  session: http2.ClientHttp2Session,
  target: string,
  init: RequestInit = {},
): Promise<Answer> {
  const stream = h2Open(session, target, init);
  return new Promise((resolve, reject) => {
    let headers: http2.IncomingHttpHeaders = {};
    const chunks: Buffer[] = [];
    stream.once('response', (received) => (headers = received));
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    stream.once('error', reject);
    stream.once('end', () =>
      resolve({ status: Number(headers[':status']), headers, body: Buffer.concat(chunks) }),
    );
  });
}

/**
 * What a streamed response (a live feed) has sent so far, and a wait for the moment it holds
 * `text` — checked as each chunk arrives, never on a timer.
 */
export interface Streamed {
  text(): string;
  received(text: string): Promise<void>;
  ended: Promise<void>;
}

export function streamed(response: NodeJS.ReadableStream): Streamed {
  let body = '';
  const waits: { text: string; resolve: () => void }[] = [];
  const settle = () => {
    for (const wait of [...waits]) {
      if (!body.includes(wait.text)) continue;
      waits.splice(waits.indexOf(wait), 1);
      wait.resolve();
    }
  };
  response.on('data', (chunk: Buffer) => {
    body += chunk.toString('utf8');
    settle();
  });
  const ended = new Promise<void>((resolve) => response.once('end', resolve));
  return {
    text: () => body,
    received: (text) =>
      new Promise<void>((resolve) => {
        waits.push({ text, resolve });
        settle();
      }),
    ended,
  };
}

/** A live feed over HTTP/1.1 on TLS, once its headers came: what it sends, and a way to hang up. */
export function h1Feed(
  url: string,
  ca: Buffer,
  target: string,
  headers: Record<string, string>,
): Promise<Streamed & { close(): void }> {
  return new Promise((resolve, reject) => {
    const request = https.get(`${url}${target}`, { ca, headers });
    request.once('error', reject);
    request.once('response', (response) =>
      resolve({ ...streamed(response), close: () => request.destroy() }),
    );
  });
}

/** A live feed over HTTP/2, once its headers came: what it sends, and a way to hang up. */
export async function h2Feed(
  session: http2.ClientHttp2Session,
  target: string,
  headers: Record<string, string>,
): Promise<Streamed & { close(): void }> {
  const stream = h2Open(session, target, { headers });
  const rows = streamed(stream);
  await new Promise((resolve) => stream.once('response', resolve));
  return { ...rows, close: () => stream.close() };
}

/** The certificate a new TLS connection to the server is shown (its SHA-256 fingerprint). */
export function servedFingerprint(url: string, ca: Buffer[]): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = tls.connect(
      { host: hostname, port: Number(port), ca, ALPNProtocols: ['http/1.1'] },
      () => {
        resolve(socket.getPeerCertificate().fingerprint256);
        socket.end();
      },
    );
    socket.once('error', reject);
  });
}

/** A TLS connection that completes its handshake and then sends nothing. */
export function silentConnection(url: string, ca: Buffer, alpn: string): Promise<tls.TLSSocket> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: hostname, port: Number(port), ca, ALPNProtocols: [alpn] }, () =>
      resolve(socket),
    );
    socket.once('error', reject);
  });
}
