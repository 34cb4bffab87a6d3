/**
 * `settee serve --tls-cert FILE --tls-key FILE`: both files or neither, read and checked at start,
 * and read again on SIGHUP so that a renewed certificate is served without a restart. The key's
 * path may be shown; its content never is.
 */
import { readFile } from 'node:fs/promises';
import type { SetteeServer } from '../server/app.js';
import { checkTlsPair, type TlsOptions } from '../server/tls.js';
import { CommandError, describeFailure } from './failures.js';
import type { ServerLog } from './logger.js';
import type { ServeOptions } from './serve-options.js';
import { SERVE_SETTINGS } from './serve-settings.js';

/** The certificate's file and its private key's. */
export interface TlsFiles {
  cert: string;
  key: string;
}

/** The files of `--tls-cert` and `--tls-key`: undefined for neither, a CommandError for one alone. */
export function tlsFilesOf(options: Pick<ServeOptions, 'tlsCert' | 'tlsKey'>): TlsFiles | undefined {
  const { tlsCert: cert, tlsKey: key } = options;
  if (cert === undefined && key === undefined) return undefined;
  if (cert === undefined || key === undefined) {
    const [given, missing] =
      cert === undefined ? (['tlsKey', 'tlsCert'] as const) : (['tlsCert', 'tlsKey'] as const);
    throw new CommandError(
      `${namesOf(given)} is set but ${namesOf(missing)} is not: HTTPS needs the certificate and its private key`,
    );
  }
  return { cert, key };
}

/** A setting's flag, variable and file key, since the value may have come from any of them. */
function namesOf(key: keyof ServeOptions): string {
  const setting = SERVE_SETTINGS.find((candidate) => candidate.key === key)!;
  const flag = /--[a-z-]+/.exec(setting.flags)![0];
  return `${flag} ($${setting.env}, [${setting.ini[0]}] ${setting.ini[1]})`;
}

/** Reads both files and checks that they make a pair; a CommandError says which file is wrong. */
export async function readTls(files: TlsFiles): Promise<TlsOptions> {
  const [cert, key] = await Promise.all([
    readTlsFile(files.cert, 'certificate'),
    readTlsFile(files.key, 'key'),
  ]);
  try {
    checkTlsPair({ cert, key });
  } catch (error) {
    throw new CommandError(
      `the TLS certificate ${files.cert} and key ${files.key} cannot be used: ${describeFailure(error)}`,
    );
  }
  return { cert, key };
}

async function readTlsFile(file: string, what: 'certificate' | 'key'): Promise<Buffer> {
  try {
    return await readFile(file);
  } catch (error) {
    // Node's own message repeats the path, with a code in front.
    const reason = (error as { code?: unknown }).code === 'ENOENT' ? 'no such file' : describeFailure(error);
    throw new CommandError(`the TLS ${what} file ${file} cannot be read: ${reason}`);
  }
}

/**
 * On SIGHUP, serves the certificate and key the files hold now (a renewal, by certbot or the
 * like). New connections get them; open ones keep theirs. A pair that cannot be used is logged,
 * and the one in use stays.
 */
export function reloadTlsOnSighup(server: SetteeServer, files: TlsFiles, log: ServerLog): void {
  process.on('SIGHUP', () => void reloadTls(server, files, log));
}

async function reloadTls(server: SetteeServer, files: TlsFiles, log: ServerLog): Promise<void> {
  try {
    server.replaceCertificate(await readTls(files));
    log.logger.info({ cert: files.cert }, `SIGHUP: serving the TLS certificate in ${files.cert} from now on`);
  } catch (error) {
    log.logger.error(`SIGHUP: the TLS certificate in use is kept: ${describeFailure(error)}`);
  }
}
