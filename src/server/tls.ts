/**
 * Native TLS: HTTP/1.1 and HTTP/2 on one port (the client picks by ALPN), a certificate that can
 * be replaced while the server runs, and the HTTP/2 sessions a shutdown must close itself.
 */
import { createPrivateKey, type KeyObject, X509Certificate } from 'node:crypto';
import type { Http2SecureServer, Http2Session } from 'node:http2';
import type { TLSSocket } from 'node:tls';

/** A PEM certificate (or chain, the server's own first) and its PEM private key. */
export interface TlsOptions {
  cert: string | Buffer;
  key: string | Buffer;
}

/** A certificate or key the server cannot serve with; the message never quotes their content. */
export class InvalidTlsError extends Error {
  override name = 'InvalidTlsError';
}

/**
 * Checks that `tls` can be served: a certificate, a private key, and the key the certificate's.
 * OpenSSL alone would accept a key of another type than the certificate's (as a second
 * certificate slot), or no certificate at all, and fail only at the first handshake.
 */
export function checkTlsPair(tls: TlsOptions): void {
  let certificate: X509Certificate;
  try {
    certificate = new X509Certificate(tls.cert);
  } catch (error) {
    throw new InvalidTlsError(`the certificate is not a PEM certificate (${reasonOf(error)})`);
  }
  let key: KeyObject;
  try {
    key = createPrivateKey(tls.key);
  } catch (error) {
    throw new InvalidTlsError(`the key is not a PEM private key (${reasonOf(error)})`);
  }
  if (!certificate.checkPrivateKey(key)) {
    throw new InvalidTlsError('the key is not the private key of the certificate');
  }
}

/** OpenSSL's reason (`no start line`), without the code around it. */
function reasonOf(error: unknown): string {
  const { reason, message } = error as { reason?: unknown; message?: unknown };
  return String(typeof reason === 'string' ? reason : message);
}

/**
 * Fastify's options for serving over TLS: HTTP/2, and HTTP/1.1 for clients that do not offer h2
 * in ALPN (PouchDB in Node, curl --http1.1, older proxies).
 */
export function tlsServerOptions(tls: TlsOptions) {
  return {
    http2: true,
    https: { allowHTTP1: true, cert: tls.cert, key: tls.key },
    // Fastify's 'idle' needs the server's closeIdleConnections, which an HTTP/2 server may lack;
    // its close() shuts idle HTTP/1.1 connections itself, and `TlsConnections` the others.
    forceCloseConnections: false,
  } as const;
}

/** Serves `tls` to new connections from now on; open ones keep theirs. A bad pair changes nothing. */
export function replaceCertificate(server: Http2SecureServer, tls: TlsOptions): void {
  checkTlsPair(tls);
  server.setSecureContext({ cert: tls.cert, key: tls.key });
}

/**
 * What a shutdown must end itself under TLS. Node 20's `server.close()` leaves HTTP/2 sessions
 * open (until their timeout, minutes away), and a connection that finished its handshake but never
 * sent a request is not idle to Node either: it would hold the shutdown until the headers timeout.
 */
export class TlsConnections {
  private readonly sessions = new Set<Http2Session>();
  private readonly sockets = new Set<TLSSocket>();

  constructor(server: Http2SecureServer) {
    server.on('session', (session: Http2Session) => {
      this.sessions.add(session);
      session.once('close', () => this.sessions.delete(session));
    });
    server.on('secureConnection', (socket: TLSSocket) => {
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
    });
  }

  /**
   * Asks each HTTP/2 session to close, which it does once its open streams (live feeds ending)
   * are done, and ends the connections that never sent a request (a TLS socket counts only
   * decrypted bytes).
   */
  closeIdle(): void {
    for (const session of this.sessions) session.close();
    for (const socket of this.sockets) if (socket.bytesRead === 0) socket.destroy();
  }
}
