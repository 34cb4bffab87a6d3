/**
 * A server's error answer as a RemoteError: `name` is the error the server sent, as PouchDB's
 * HTTP adapter names its errors (err.name = the body's `error`; node_modules/pouchdb/lib/index.js,
 * generateErrorFromResponse), while `error` stays a name of Settee's catalogue.
 */
import { describe, expect, it } from 'vitest';
import { SetteeError } from '../../src/core/errors.js';
import { RemoteError, remoteError } from '../../src/remote/errors.js';

describe('remoteError', () => {
  it('keeps a catalogue name as name and error', () => {
    const err = remoteError(404, { error: 'not_found', reason: 'Database does not exist.' });
    expect(err).toBeInstanceOf(RemoteError);
    expect(err).toBeInstanceOf(SetteeError);
    expect(err).toMatchObject({
      name: 'not_found',
      error: 'not_found',
      status: 404,
      message: 'Database does not exist.',
      reason: 'Database does not exist.',
      remoteError: 'not_found',
    });
  });

  it('names an error Settee does not know as the server did, mapping error by status', () => {
    // CouchDB's chttpd answers a request that timed out with {"error":"timeout"} and 500.
    const err = remoteError(500, {
      error: 'timeout',
      reason: 'The request could not be processed in a reasonable amount of time.',
    });
    expect(err).toMatchObject({
      name: 'timeout',
      error: 'unknown_error',
      status: 500,
      remoteError: 'timeout',
    });
  });

  it('an answer without an error name is named by the catalogue', () => {
    const err = remoteError(502, 'Bad Gateway');
    expect(err).toMatchObject({
      name: 'unknown_error',
      error: 'unknown_error',
      status: 502,
      message: 'Bad Gateway',
    });
    expect(err.remoteError).toBe('http_502');
  });

  it('an error name that is an Object property is not taken for a catalogue name', () => {
    const err = remoteError(400, { error: 'toString', reason: 'odd' });
    expect(err).toMatchObject({ name: 'toString', error: 'bad_request', status: 400 });
  });
});
