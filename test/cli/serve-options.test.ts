import path from 'node:path';
import { exportSPKI, generateKeyPair } from 'jose';
import { describe, expect, it } from 'vitest';
import { adminCredentials, jwtOptions } from '../../src/cli/serve-options.js';
import { JwtVerifier } from '../../src/server/auth/jwt.js';
import { useSecretFiles } from './helpers.js';

const file = useSecretFiles('serve-options');

describe('the server admin of `settee serve`', () => {
  it('comes from --admin, else --admin-file, else SETTEE_ADMIN, else SETTEE_ADMIN_FILE', async () => {
    const secretFile = file('admin', 'root:from file\n');
    const envFile = file('admin-env', 'envroot:from env file');
    expect(await adminCredentials({ admin: ['a:b'], adminFile: secretFile }, {})).toEqual(['a:b']);
    expect(await adminCredentials({ adminFile: secretFile }, { SETTEE_ADMIN: 'x:y' })).toEqual([
      'root:from file',
    ]);
    expect(await adminCredentials({}, { SETTEE_ADMIN: 'x:y', SETTEE_ADMIN_FILE: envFile })).toEqual(['x:y']);
    expect(await adminCredentials({}, { SETTEE_ADMIN_FILE: envFile })).toEqual(['envroot:from env file']);
    expect(await adminCredentials({ admin: [] }, {})).toBeUndefined();
    expect(await adminCredentials({}, {})).toBeUndefined();
  });

  it('takes several: repeated --admin, the lines of a file or of SETTEE_ADMIN, blank lines skipped', async () => {
    expect(await adminCredentials({ admin: ['a:1', 'b:2'] }, {})).toEqual(['a:1', 'b:2']);
    const two = file('admins', '\nroot:first pw\r\n  \nops: spaced \n\n');
    expect(await adminCredentials({ adminFile: two }, {})).toEqual(['root:first pw', 'ops: spaced ']);
    expect(await adminCredentials({}, { SETTEE_ADMIN: 'a:x,y\nb:z' })).toEqual(['a:x,y', 'b:z']);
    // A file of blank lines gives no admin, as none was given.
    expect(await adminCredentials({ adminFile: file('blank', '\n\n') }, {})).toBeUndefined();
  });

  it('fails clearly when the file cannot be read', async () => {
    await expect(
      adminCredentials({ adminFile: path.join(path.dirname(file('present', '')), 'missing') }, {}),
    ).rejects.toThrow(/ENOENT/);
  });
});

describe('JWT keys of `settee serve`', () => {
  it('are none without a secret or key', async () => {
    expect(await jwtOptions({ jwtKey: [] }, {})).toEqual({});
  });

  it('take the HMAC secret from the option or SETTEE_JWT_SECRET, and PEM keys by file name', async () => {
    const { publicKey } = await generateKeyPair('ES256', { extractable: true });
    const pem = await exportSPKI(publicKey);
    const keyFile = file('issuer.pem', pem);
    const options = await jwtOptions(
      { jwtKey: [keyFile], jwtRolesClaim: 'realm.roles' },
      { SETTEE_JWT_SECRET: 's' },
    );
    expect(options.jwt).toEqual({
      hmacSecrets: { _default: 's' },
      publicKeys: { issuer: pem, _default: pem },
      rolesClaimPath: 'realm.roles',
    });
    // A configuration the verifier accepts.
    await expect(JwtVerifier.create(options.jwt!)).resolves.toBeInstanceOf(JwtVerifier);
  });
});
