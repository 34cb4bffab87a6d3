/**
 * Every setting of `settee serve` in one table: its command-line flag, its environment variable
 * and its key in the configuration file (`--config settee.ini`, CouchDB-style sections). One
 * precedence for all of them: flags, then the environment, then the file, then the defaults. Each
 * value, wherever it comes from, goes through the same parser, so a bad one is refused at start
 * with a message that names where it came from.
 */
import { readFileSync } from 'node:fs';
import { type Command, InvalidArgumentError, Option } from 'commander';
import { parse as parseIni } from 'ini';
import { DEFAULT_MAX_ENTRIES, LOCKOUT_MODES } from '../server/auth/lockout.js';
import { parseRequestLog, type RequestLogSetting } from '../server/metrics/request-log.js';
import { LOG_FORMATS, LOG_LEVELS } from './logger.js';
import { byteSize, compactionRatio, nonBlankLines, redactedUrl, type ServeOptions } from './serve-options.js';

type Env = Record<string, string | undefined>;

/**
 * The key the `[admins]` section stands for: its lines `NAME = PASSWORD`, each written
 * `NAME:PASSWORD` as `--admin` takes it, one a line.
 */
const ADMIN_KEY = 'NAME';

/** Where a setting's value came from, strongest first. */
export const SOURCES = ['cli', 'env', 'config', 'default'] as const;
export type SettingSource = (typeof SOURCES)[number];

/** One setting: the same value reached by a flag, an environment variable or a file key. */
export interface ServeSetting {
  /** The option's name in `ServeOptions` (commander's attribute name of the flag). */
  key: keyof ServeOptions;
  /** Commander's flags, e.g. `-p, --port <port>`; a flag without `<value>` is a switch. */
  flags: string;
  description: string;
  /** The environment variable. */
  env: string;
  /** Section and key in the configuration file. */
  ini: readonly [section: string, key: string];
  /** Turns one written value into the option's value; throws InvalidArgumentError on a bad one. */
  parse?: (value: string) => unknown;
  /**
   * The flag may be given several times; the environment and the file separate values by
   * commas, or by line breaks for values that may hold commas and spaces (passwords).
   */
  repeatable?: 'commas' | 'lines';
  /**
   * Other keys of the same section that set it too (CouchDB's name, or an older one of ours),
   * each with its own parser when it is written in another unit.
   */
  iniAliases?: readonly { key: string; parse?: (value: string) => unknown }[];
  choices?: readonly string[];
  defaultValue?: unknown;
  /** Shown as `***` by `GET /_node/_local/_config`; a URL keeps everything but its password. */
  secret?: 'value' | 'url-password';
  /** When both are set, only the one from the stronger source counts (the tie goes to this one). */
  outranks?: keyof ServeOptions;
}

/** A whole number of at least 0. */
export function wholeNumber(value: string): number {
  const parsed = Number(value);
  if (value.trim() === '' || !Number.isInteger(parsed) || parsed < 0) {
    throw new InvalidArgumentError('expected a whole number');
  }
  return parsed;
}

/** A whole number of at least 1. */
function positiveWholeNumber(value: string): number {
  const parsed = wholeNumber(value);
  if (parsed < 1) throw new InvalidArgumentError('expected a whole number of at least 1');
  return parsed;
}

/** `--request-log`: on, off, or the share of requests to log. */
function requestLogOf(value: string): RequestLogSetting {
  const setting = parseRequestLog(value);
  if (setting === undefined) throw new InvalidArgumentError('expected on, off or a share between 0 and 1');
  return setting;
}

/** A switch written in the environment or a file: true/false, on/off, yes/no, 1/0. */
export function onOff(value: string): boolean {
  const word = value.trim().toLowerCase();
  if (['true', 'on', 'yes', '1'].includes(word)) return true;
  if (['false', 'off', 'no', '0'].includes(word)) return false;
  throw new InvalidArgumentError('expected true or false');
}

export const SERVE_SETTINGS: readonly ServeSetting[] = [
  {
    key: 'port',
    flags: '-p, --port <port>',
    description: 'port to listen on',
    env: 'SETTEE_PORT',
    ini: ['httpd', 'port'],
    parse: wholeNumber,
    defaultValue: 5984,
  },
  {
    key: 'host',
    flags: '-H, --host <host>',
    description: 'address to listen on',
    env: 'SETTEE_HOST',
    ini: ['httpd', 'bind_address'],
    defaultValue: '127.0.0.1',
  },
  {
    key: 'data',
    flags: '-d, --data <folder>',
    description: 'folder of the databases (one SQLite file each)',
    env: 'SETTEE_DATA',
    ini: ['couchdb', 'database_dir'],
    defaultValue: './data',
  },
  {
    key: 'postgres',
    flags: '--postgres <url>',
    description: 'keep the databases in this PostgreSQL, shared with other servers',
    env: 'SETTEE_POSTGRES',
    ini: ['postgres', 'url'],
    secret: 'url-password',
  },
  {
    key: 'admin',
    flags: '--admin <user:password>',
    description:
      'a server admin (repeatable; one a line in the environment; default: generated at first start)',
    env: 'SETTEE_ADMIN',
    // CouchDB's form, `NAME = PASSWORD` a line; read by `checkedIni`.
    ini: ['admins', ADMIN_KEY],
    repeatable: 'lines',
    secret: 'value',
    outranks: 'adminFile',
  },
  {
    key: 'adminFile',
    flags: '--admin-file <file>',
    description: 'read the server admins from this file, a "user:password" a line, so they do not show in ps',
    env: 'SETTEE_ADMIN_FILE',
    ini: ['settee', 'admin_file'],
  },
  {
    key: 'allowSignup',
    flags: '--allow-signup',
    description: 'anyone may create a user in _users (with no roles)',
    env: 'SETTEE_ALLOW_SIGNUP',
    ini: ['couch_httpd_auth', 'allow_signup'],
    parse: onOff,
  },
  {
    key: 'perUserDbs',
    flags: '--per-user-dbs',
    description: 'give every user a database userdb-{hex of name}, theirs alone',
    env: 'SETTEE_PER_USER_DBS',
    ini: ['couch_peruser', 'enable'],
    parse: onOff,
  },
  {
    key: 'perUserDbsDelete',
    flags: '--per-user-dbs-delete',
    description: "delete a user's database when the user is deleted",
    env: 'SETTEE_PER_USER_DBS_DELETE',
    ini: ['couch_peruser', 'delete_dbs'],
    parse: onOff,
  },
  {
    key: 'jwtSecret',
    flags: '--jwt-secret <secret>',
    description: 'accept HS256 JWTs signed with this secret ("base64:…" for bytes)',
    env: 'SETTEE_JWT_SECRET',
    ini: ['jwt_auth', 'secret'],
    secret: 'value',
  },
  {
    key: 'jwtKey',
    flags: '--jwt-key <file>',
    description: 'accept RS256/ES256 JWTs verified with this PEM public key (repeatable; kid=file)',
    env: 'SETTEE_JWT_KEY',
    ini: ['jwt_auth', 'key_files'],
    repeatable: 'commas',
  },
  {
    key: 'jwtRolesClaim',
    flags: '--jwt-roles-claim <path>',
    description:
      'where JWTs carry roles, as CouchDB roles_claim_path (default: the top-level claim "_couchdb.roles")',
    env: 'SETTEE_JWT_ROLES_CLAIM',
    ini: ['jwt_auth', 'roles_claim_path'],
  },
  {
    key: 'secureCookies',
    flags: '--secure-cookies',
    description: 'the server is reached over HTTPS (a TLS proxy): session cookies get Secure',
    env: 'SETTEE_SECURE_COOKIES',
    ini: ['couch_httpd_auth', 'cookie_secure'],
    parse: onOff,
  },
  // CouchDB's names (share/doc/src/config/ssl.rst in apache/couchdb): `[ssl] cert_file`, `key_file`.
  {
    key: 'tlsCert',
    flags: '--tls-cert <file>',
    description:
      'serve HTTPS (HTTP/1.1 and HTTP/2) with this PEM certificate, its chain after it; SIGHUP reloads it',
    env: 'SETTEE_TLS_CERT',
    ini: ['ssl', 'cert_file'],
  },
  {
    key: 'tlsKey',
    flags: '--tls-key <file>',
    description: "the certificate's PEM private key (with --tls-cert)",
    env: 'SETTEE_TLS_KEY',
    ini: ['ssl', 'key_file'],
  },
  {
    key: 'trustProxy',
    flags: '--trust-proxy <address>',
    description:
      'a proxy in front of the server (address or CIDR, repeatable): its X-Forwarded-For names the client',
    env: 'SETTEE_TRUST_PROXY',
    ini: ['httpd', 'trust_proxy'],
    repeatable: 'commas',
  },
  {
    key: 'lockoutAttempts',
    flags: '--lockout-attempts <n>',
    description: 'failed logins from one address before the user is locked out there',
    env: 'SETTEE_LOCKOUT_ATTEMPTS',
    // CouchDB 3.4's name (src/couch/src/couch_auth_lockout.erl, lockout_threshold/0); ours before it.
    ini: ['chttpd_auth_lockout', 'threshold'],
    iniAliases: [{ key: 'max_failures' }],
    parse: wholeNumber,
    defaultValue: 5,
  },
  {
    key: 'lockoutMinutes',
    flags: '--lockout-minutes <n>',
    description: 'how long a lockout lasts',
    env: 'SETTEE_LOCKOUT_MINUTES',
    ini: ['chttpd_auth_lockout', 'minutes'],
    // CouchDB 3.4's key, in milliseconds (src/docs/src/config/auth.rst, [chttpd_auth_lockout]).
    iniAliases: [{ key: 'max_lifetime', parse: (value) => positiveWholeNumber(value) / 60_000 }],
    parse: positiveWholeNumber,
    defaultValue: 5,
  },
  {
    key: 'lockoutMode',
    flags: '--lockout-mode <mode>',
    description: 'enforce: refuse a locked-out user; warn: only log it; off: count no failures',
    env: 'SETTEE_LOCKOUT_MODE',
    // CouchDB 3.4's key and words (src/couch/src/couch_auth_lockout.erl, lockout_mode/0).
    ini: ['chttpd_auth_lockout', 'mode'],
    choices: LOCKOUT_MODES,
    defaultValue: 'enforce',
  },
  {
    key: 'lockoutMaxObjects',
    flags: '--lockout-max-objects <n>',
    description: 'most user and address pairs the lockout keeps track of',
    env: 'SETTEE_LOCKOUT_MAX_OBJECTS',
    // CouchDB 3.4's key (src/docs/src/config/auth.rst, [chttpd_auth_lockout] max_objects).
    ini: ['chttpd_auth_lockout', 'max_objects'],
    parse: positiveWholeNumber,
    defaultValue: DEFAULT_MAX_ENTRIES,
  },
  {
    key: 'validateTimeout',
    flags: '--validate-timeout <ms>',
    description: 'time limit of one validate_doc_update call',
    env: 'SETTEE_VALIDATE_TIMEOUT',
    ini: ['query_server_config', 'validate_timeout'],
    parse: wholeNumber,
    defaultValue: 5000,
  },
  {
    key: 'corsOrigin',
    flags: '--cors-origin <url>',
    description: 'an origin browsers may call from, with credentials (repeatable)',
    env: 'SETTEE_CORS_ORIGIN',
    ini: ['cors', 'origins'],
    repeatable: 'commas',
  },
  {
    key: 'maxRequestSize',
    flags: '--max-request-size <bytes>',
    description: 'largest request body',
    env: 'SETTEE_MAX_REQUEST_SIZE',
    ini: ['chttpd', 'max_http_request_size'],
    parse: byteSize,
    defaultValue: 256 * 1024 * 1024,
  },
  {
    key: 'autoCompact',
    flags: '--auto-compact <on|off>',
    description: 'compact databases whose files hold much more than their data',
    env: 'SETTEE_AUTO_COMPACT',
    ini: ['compaction', 'auto'],
    choices: ['on', 'off'],
    defaultValue: 'on',
  },
  {
    key: 'autoCompactRatio',
    flags: '--auto-compact-ratio <n>',
    description: 'compact once the files are n times the live data (default 2)',
    env: 'SETTEE_AUTO_COMPACT_RATIO',
    ini: ['compaction', 'ratio'],
    parse: compactionRatio,
  },
  {
    key: 'autoCompactMinSize',
    flags: '--auto-compact-min-size <size>',
    description: 'and would free at least this much (default 16MB)',
    env: 'SETTEE_AUTO_COMPACT_MIN_SIZE',
    ini: ['compaction', 'min_size'],
    parse: byteSize,
  },
  {
    key: 'resolvers',
    flags: '--resolvers <module>',
    description: 'a JavaScript module of conflict resolution strategies for PUT /{db}/_resolver (repeatable)',
    env: 'SETTEE_RESOLVERS',
    ini: ['resolvers', 'modules'],
    repeatable: 'commas',
  },
  {
    key: 'logLevel',
    flags: '--log-level <level>',
    description: 'which log lines to print (start-up lines always print)',
    env: 'SETTEE_LOG_LEVEL',
    ini: ['log', 'level'],
    choices: LOG_LEVELS,
    defaultValue: 'info',
  },
  {
    key: 'logFormat',
    flags: '--log-format <format>',
    description: 'auto: readable lines on a terminal, JSON lines otherwise',
    env: 'SETTEE_LOG_FORMAT',
    ini: ['log', 'format'],
    choices: LOG_FORMATS,
    defaultValue: 'auto',
  },
  {
    key: 'requestLog',
    flags: '--request-log <when>',
    description: 'a log line per request: on, off, or a share such as 0.1 (one in ten); server errors always',
    env: 'SETTEE_REQUEST_LOG',
    ini: ['log', 'requests'],
    parse: requestLogOf,
    defaultValue: 'on',
  },
];

/** The flag `--config`, and its environment variable. */
export const CONFIG_ENV = 'SETTEE_CONFIG';

/** Adds every setting, and `--config <file>`, to the `serve` command. */
export function addServeSettings(command: Command, env: Env = process.env): Command {
  command.option(
    '--config <file>',
    `read settings from this ini file (or $${CONFIG_ENV}); flags and the environment win`,
  );
  for (const setting of SERVE_SETTINGS) command.addOption(optionOf(setting));
  // After commander parsed the flags, before the action runs: the environment and the file fill
  // what no flag gave.
  command.hook('preAction', (thisCommand) => {
    try {
      applyEnvironmentAndFile(thisCommand, env);
    } catch (error) {
      thisCommand.error(`error: ${(error as Error).message}`, { exitCode: 2 });
    }
  });
  return command;
}

function optionOf(setting: ServeSetting): Option {
  const option = new Option(setting.flags, `${setting.description} [$${setting.env}]`);
  if (setting.choices) option.choices(setting.choices);
  if (setting.repeatable) option.argParser(collectWith(setting.parse)).default([]);
  else if (setting.parse) option.argParser(setting.parse);
  if (setting.defaultValue !== undefined && !setting.repeatable) option.default(setting.defaultValue);
  return option;
}

function collectWith(parse: ((value: string) => unknown) | undefined) {
  return (value: string, previous: unknown[]) => [...previous, parse ? parse(value) : value];
}

/** The parsed configuration file: section → key → written value. */
export type IniSettings = Record<string, Record<string, string>>;

/**
 * Fills every setting no flag gave from the environment, else from the configuration file
 * (`--config`, or `$SETTEE_CONFIG`), recording where each value came from.
 */
export function applyEnvironmentAndFile(command: Command, env: Env): void {
  const configFile =
    (command.getOptionValue('config') as string | undefined) ?? (env[CONFIG_ENV] || undefined);
  const file = configFile === undefined ? {} : readConfigFile(configFile);
  for (const setting of SERVE_SETTINGS) {
    const source = command.getOptionValueSource(setting.key);
    if (source === 'cli') continue;
    const fromEnv = env[setting.env];
    if (fromEnv !== undefined && fromEnv !== '') {
      command.setOptionValueWithSource(setting.key, parseWritten(setting, fromEnv, `$${setting.env}`), 'env');
      continue;
    }
    const fromFile = fileValue(setting, file, configFile);
    if (fromFile !== undefined) command.setOptionValueWithSource(setting.key, fromFile, 'config');
  }
  for (const setting of SERVE_SETTINGS) dropOutranked(command, setting);
}

/** The setting's value in the file, parsed, by its key or one of its aliases (not two of them). */
function fileValue(setting: ServeSetting, file: IniSettings, configFile: string | undefined): unknown {
  const [section, key] = setting.ini;
  const keys = [{ key }, ...(setting.iniAliases ?? [])];
  const written = keys.filter((candidate) => file[section]?.[candidate.key] !== undefined);
  if (written.length > 1) {
    const both = written.map((candidate) => candidate.key).join(' and ');
    throw new Error(`${configFile}: [${section}] ${both} set the same thing; keep one`);
  }
  const [found] = written;
  if (found === undefined) return undefined;
  const parse = 'parse' in found && found.parse ? found.parse : setting.parse;
  return parseWritten(
    { ...setting, parse },
    file[section]![found.key]!,
    `${configFile}: [${section}] ${found.key}`,
  );
}

/** Of two settings that say the same thing (`--admin`, `--admin-file`), keeps the stronger source's. */
function dropOutranked(command: Command, setting: ServeSetting): void {
  if (setting.outranks === undefined) return;
  const mine = command.getOptionValueSource(setting.key) as SettingSource | undefined;
  const theirs = command.getOptionValueSource(setting.outranks) as SettingSource | undefined;
  if (mine === undefined || theirs === undefined) return;
  if (!isSet(command.getOptionValue(setting.key))) return;
  if (!isSet(command.getOptionValue(setting.outranks))) return;
  const loser = SOURCES.indexOf(mine) <= SOURCES.indexOf(theirs) ? setting.outranks : setting.key;
  command.setOptionValueWithSource(loser, undefined, 'default');
}

/** Neither absent nor an empty list (a repeatable flag not given). */
function isSet(value: unknown): boolean {
  return value !== undefined && !(Array.isArray(value) && value.length === 0);
}

/** A value written in the environment or the file, parsed as its flag's would be. */
function parseWritten(setting: ServeSetting, written: string, where: string): unknown {
  const parseOne = (value: string): unknown => {
    if (setting.choices && !setting.choices.includes(value)) {
      throw new Error(`${where}: expected one of ${setting.choices.join(', ')}, not "${value}"`);
    }
    try {
      return setting.parse ? setting.parse(value) : value;
    } catch (error) {
      throw new Error(`${where}: ${(error as Error).message}, not "${value}"`);
    }
  };
  if (setting.repeatable === undefined) return parseOne(written.trim());
  // A line is kept whole: spaces at its ends may be part of a password.
  if (setting.repeatable === 'lines') return nonBlankLines(written).map(parseOne);
  return written
    .split(',')
    .map((value) => value.trim())
    .filter((value) => value !== '')
    .map(parseOne);
}

/**
 * Reads and checks a configuration file: every section and key must be one of the settings, so
 * a typo is told at start instead of being silently ignored.
 */
export function readConfigFile(file: string): IniSettings {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new Error(`cannot read the configuration file ${file}: ${(error as Error).message}`);
  }
  return checkedIni(parseIni(text), file);
}

/**
 * `[admins]` as CouchDB writes it, `NAME = PASSWORD` a line: the server admins, one
 * `NAME:PASSWORD` a line. A name written twice is one key, the last line's (the ini parser, as
 * CouchDB's config.erl, lets a later value of a key replace an earlier one).
 */
function adminsOfSection(entries: unknown, file: string): string {
  const admins = typeof entries === 'object' && entries !== null ? Object.entries(entries) : [];
  return admins
    .map(([name, password]) => {
      if (typeof password !== 'string' || password === '' || name.includes(':')) {
        throw new Error(`${file}: [admins] ${name}: expected NAME = PASSWORD, the name without ":"`);
      }
      return `${name}:${password}`;
    })
    .join('\n');
}

function checkedIni(parsed: Record<string, unknown>, file: string): IniSettings {
  const known = new Map<string, string[]>();
  for (const { ini, iniAliases = [] } of SERVE_SETTINGS) {
    known.set(ini[0], [...(known.get(ini[0]) ?? []), ini[1], ...iniAliases.map(({ key }) => key)]);
  }
  const settings: IniSettings = {};
  const { admins, ...rest } = parsed;
  if (admins !== undefined) settings.admins = { [ADMIN_KEY]: adminsOfSection(admins, file) };
  for (const [section, entries] of Object.entries(rest)) {
    const keys = known.get(section);
    if (keys === undefined || typeof entries !== 'object' || entries === null) {
      const where = typeof entries === 'object' ? `[${section}]` : `"${section}" outside any section`;
      throw new Error(
        `${file}: ${where} is not a section of settee's settings; the sections are ${[...known.keys()].join(', ')}`,
      );
    }
    settings[section] = {};
    for (const [key, value] of Object.entries(entries)) {
      if (!keys.includes(key)) {
        throw new Error(
          `${file}: [${section}] ${key} is not a setting; the keys of [${section}] are ${keys.join(', ')}`,
        );
      }
      settings[section][key] = typeof value === 'string' ? value : String(value);
    }
  }
  return settings;
}

/**
 * The settings the server runs with, as CouchDB's `GET /_node/_local/_config` shows them
 * (section → key → text), secrets replaced by `***`. Only what was set: by a flag, the
 * environment, the file or a default.
 */
export function effectiveSettings(options: ServeOptions): IniSettings {
  const shown: IniSettings = {};
  for (const setting of SERVE_SETTINGS) {
    const value = options[setting.key];
    if (!isSet(value)) continue;
    const [section, key] = setting.ini;
    // The admins' names are no secret; their passwords are.
    if (key === ADMIN_KEY) Object.assign((shown[section] ??= {}), hiddenPasswords(value as string[]));
    else
      (shown[section] ??= {})[key] = redacted(
        setting,
        Array.isArray(value) ? value.join(',') : String(value),
      );
  }
  return shown;
}

/** `name:password` of each admin → `{name: '***'}`. */
function hiddenPasswords(admins: string[]): Record<string, string> {
  return Object.fromEntries(admins.map((admin) => [admin.split(':')[0]!, '***']));
}

function redacted(setting: ServeSetting, text: string): string {
  if (setting.secret === 'value') return '***';
  if (setting.secret === 'url-password') return redactedUrl(text);
  return text;
}
