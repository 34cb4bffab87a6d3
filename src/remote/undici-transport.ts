/**
 * undici's `request` over a shared keep-alive pool, the default transport in Node: importing this
 * module installs it (the Node entry, the CLI, the server's replicator and the test setup do).
 *
 * Why not Node's `fetch`: a replication is a long run of requests with bodies of a few hundred
 * KB; `fetch` builds a WHATWG Request, Headers and byte streams around each, and sends a string
 * body as a stream (headers and body in two socket writes). `request` writes them together and
 * hands the body over as plain chunks: about half the client CPU per request.
 */
import { Agent, request as undiciRequest } from 'undici';
import { installDefaultTransport, type Transport } from './transport.js';

/**
 * One pool for every client of this process, as `fetch`'s global one is. Its own timeouts are
 * off: the HTTP client aborts a request that stops making progress (a longpoll may rightly wait
 * for minutes between heartbeats, a stalled body must not wait for undici's five).
 */
let sharedAgent: Agent | undefined;

export function undiciTransport(): Transport {
  return async (url, { method, headers, body, signal }) => {
    sharedAgent ??= new Agent({ headersTimeout: 0, bodyTimeout: 0 });
    const raw = await undiciRequest(url, {
      method: method as 'GET',
      headers,
      body,
      signal,
      dispatcher: sharedAgent,
    });
    // A connection lost before the body is read (its reader still awaiting something else) makes
    // the body emit 'error' with no listener yet: Node throws that, and the process dies. Reading
    // the body still throws the error, so nothing is lost by listening here.
    raw.body.on('error', ignore);
    return {
      status: raw.statusCode,
      header: (name) => {
        const value = raw.headers[name];
        return Array.isArray(value) ? value.join(', ') : value;
      },
      setCookies: () => {
        const value = raw.headers['set-cookie'];
        return value === undefined ? [] : Array.isArray(value) ? value : [value];
      },
      body: () => raw.body,
      discard: async () => {
        // dump() reads a short remainder to keep the connection, and destroys it otherwise.
        if (!raw.body.readableEnded) await raw.body.dump().catch(() => {});
      },
    };
  };
}

function ignore(): void {}

installDefaultTransport(undiciTransport);
