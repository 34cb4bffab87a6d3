/**
 * Audit of issue 10: "`--admin user:password` shows in `ps`: add a way to give it from a file".
 * The file's line break is not part of the password, but every other character is: an admin
 * whose password starts or ends with a space must sign in with exactly that password.
 */
import { describe, expect, it } from 'vitest';
import { adminCredentials } from '../../src/cli/serve-options.js';
import { useSecretFiles } from '../cli/helpers.js';
import { basicAuth, startServer } from './harness.js';

const secretFile = useSecretFiles('admin-file');

describe('--admin-file', () => {
  it('drops the line break an editor or echo adds, whichever it is', async () => {
    for (const [name, text] of [
      ['lf', 'root:pw\n'],
      ['crlf', 'root:pw\r\n'],
      ['none', 'root:pw'],
    ]) {
      expect(await adminCredentials({ adminFile: secretFile(name!, text!) }, {}), name).toEqual(['root:pw']);
    }
  });

  it('keeps spaces that belong to the password, and the server accepts exactly it', async () => {
    const file = secretFile('spaces', 'root:  two words  \n');
    const credentials = await adminCredentials({}, { SETTEE_ADMIN_FILE: file });
    expect(credentials).toEqual(['root:  two words  ']);
    const server = await startServer({ admin: credentials });
    try {
      const statusWith = async (password: string) =>
        (
          await fetch(`${server.url}/_session?basic=true`, {
            headers: { authorization: basicAuth('root', password) },
          })
        ).status;
      expect(await statusWith('  two words  ')).toBe(200);
      expect(await statusWith('two words')).toBe(401);
    } finally {
      await server.stop();
    }
  });
});
