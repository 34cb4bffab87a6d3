/**
 * How the server serves the web page's files: public, typed, uncached, under a Content Security
 * Policy, and nothing outside the `ui/` folder whatever the path says.
 */
import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type TestServer } from '../server/harness.js';

let t: TestServer;

beforeAll(async () => {
  t = await startServer();
});

afterAll(async () => {
  await t?.stop();
});

/** A request with its path sent exactly as written (fetch would normalise `..` away). */
function raw(
  method: string,
  path: string,
): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  const { hostname, port } = new URL(t.url);
  return new Promise((resolve, reject) => {
    const request = http.request({ method, hostname, port, path }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (body += chunk));
      response.on('end', () =>
        resolve({ status: response.statusCode ?? 0, headers: response.headers, body }),
      );
    });
    request.on('error', reject);
    request.end();
  });
}

describe('GET /_ui/', () => {
  it('redirects /_ui to /_ui/, keeping the query', async () => {
    expect(await raw('GET', '/_ui')).toMatchObject({ status: 301, headers: { location: '/_ui/' } });
    expect((await raw('GET', '/_ui?x=1')).headers.location).toBe('/_ui/?x=1');
  });

  it('serves the page and its files without credentials, typed, uncached and under a CSP', async () => {
    const page = await raw('GET', '/_ui/?from=test');
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(page.headers['cache-control']).toBe('no-cache');
    expect(page.headers['content-security-policy']).toMatch(/^default-src 'self'/);
    expect(page.headers['x-content-type-options']).toBe('nosniff');
    expect(page.body).toContain('<script type="module" src="app.js"></script>');
    const types: Record<string, string> = {
      '/_ui/index.html': 'text/html; charset=utf-8',
      '/_ui/app.js': 'text/javascript; charset=utf-8',
      '/_ui/diff.js': 'text/javascript; charset=utf-8',
      '/_ui/style.css': 'text/css; charset=utf-8',
      '/_ui/icon.svg': 'image/svg+xml',
    };
    for (const [path, type] of Object.entries(types)) {
      const response = await raw('GET', path);
      expect([path, response.status, response.headers['content-type']]).toEqual([path, 200, type]);
    }
    const head = await raw('HEAD', '/_ui/app.js');
    expect([head.status, head.body]).toEqual([200, '']);
  });

  it('answers 404 for anything that is not a file of the folder', async () => {
    const paths = [
      '/_ui/../package.json',
      '/_ui/%2e%2e/package.json',
      '/_ui/..%2fpackage.json',
      '/_ui/%2e%2e%2f%2e%2e%2fpackage.json',
      '/_ui/..\\package.json',
      '/_ui/.hidden.js',
      '/_ui/nothing-here.js',
      '/_ui/app',
      '/_ui/app.js/',
      '/_ui//app.js',
      '/_ui/%00.js',
    ];
    for (const path of paths) {
      const response = await raw('GET', path);
      expect([path, response.status]).toEqual([path, 404]);
      expect(JSON.parse(response.body)).toEqual({ error: 'not_found', reason: 'missing' });
    }
    // A path that cannot be decoded is refused before it reaches the page's files.
    expect((await raw('GET', '/_ui/%zz.js')).status).toBe(400);
  });

  it('refuses other methods with 405, and keeps the rest of the server behind its login', async () => {
    const post = await raw('POST', '/_ui/');
    expect([post.status, post.headers.allow]).toEqual([405, 'GET,HEAD']);
    expect((await raw('GET', '/_all_dbs')).status).toBe(401);
    expect((await raw('GET', '/_uix')).status).toBe(401);
  });
});
