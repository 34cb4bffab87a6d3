/**
 * CouchDB's node endpoints, `/_node/{node}/…`, for this server as its one node: `_local` (any
 * server answers for itself, as CouchDB's `_local` alias does). `_config` shows the settings the
 * server started with: read-only, since they come from flags, the environment and a file that
 * are read at start (docs/configuration.md).
 */
import { notFound, SetteeError } from '../../core/errors.js';
import type { Methods, RequestContext } from '../context.js';
import { sendJson } from '../http.js';

/** Section → key → value as text, secrets already hidden (`***`): what `_config` shows. */
export type ConfigSections = Readonly<Record<string, Readonly<Record<string, string>>>>;

const LOCAL_NODE = '_node/_local/';

/** The handlers of a `/_node/_local/…` endpoint this server has, if it is one. */
export function nodeMethods(endpoint: string): Methods | undefined {
  if (!endpoint.startsWith(LOCAL_NODE)) return undefined;
  const [name, ...path] = endpoint.slice(LOCAL_NODE.length).split('/');
  if (name === '_config' && path.length <= 2) return configMethods(path);
  return undefined;
}

/** `_config`, `_config/{section}`, `_config/{section}/{key}`. */
function configMethods([section, key]: string[]): Methods {
  const read = async (ctx: RequestContext) => {
    const config = ctx.services.config;
    if (section === undefined) return sendJson(ctx.reply, 200, config);
    const entries = config[section] ?? {};
    if (key === undefined) return sendJson(ctx.reply, 200, entries);
    // CouchDB: 404 `unknown_config_value` for a key that is not set.
    if (!Object.hasOwn(entries, key)) throw notFound('unknown_config_value');
    return sendJson(ctx.reply, 200, entries[key]);
  };
  const readOnly = async () => {
    throw new SetteeError(
      'method_not_allowed',
      "Settee's configuration is read at start: change the file, the environment or the flags, and restart.",
    );
  };
  return { GET: read, ...(key === undefined ? {} : { PUT: readOnly, DELETE: readOnly }) };
}
