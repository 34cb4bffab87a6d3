/**
 * What every write to a server database must pass, in this order (the first refusal wins):
 * design documents need a database admin; `_users` and `_replicator` keep their own rules; then
 * the `validate_doc_update` functions of the database's design documents, in the sandbox, with
 * `(newDoc, oldDoc, userCtx, secObj)`. Replicated writes (`new_edits=false`) pass them too.
 */
import type { NewDoc, UserContext } from '../core/api.js';
import { SetteeError } from '../core/errors.js';
import type { Database } from '../database/database.js';
import type { ProposedWrite, WriteHook, WriteHookContext } from '../database/write-hook.js';
import type { ValidationOutcome } from '../design/index.js';
import { isReplicatorDb } from './permissions.js';
import type { DatabaseRegistry } from './registry.js';
import { replicatorWriteHook } from './replicator/ownership.js';
import { ADMIN_ROLE, isDbAdmin } from './security.js';
import { USERS_DB, usersWriteHook, type UserStoreOptions } from './users.js';

/** Runs validation functions (the sandbox's worker pool). */
export interface DesignValidator {
  validate(request: {
    functions: { key: string; source: string; ddocId: string; modules: Record<string, unknown> }[];
    items: { newDoc: Record<string, unknown>; oldDoc: Record<string, unknown> | null }[];
    userCtx: { db: string; name: string | null; roles: string[] };
    secObj: Record<string, unknown>;
  }): Promise<ValidationOutcome[]>;
}

export interface WriteRulesDeps {
  registry: DatabaseRegistry;
  users: UserStoreOptions;
  validator: DesignValidator;
}

/** The server itself (a job recording its state): validation functions see a server admin. */
const SERVER_CTX: UserContext = { name: null, roles: [ADMIN_ROLE] };

/** The write hook of one server database. */
export function writeRulesFor(db: Database, deps: WriteRulesDeps): WriteHook {
  const system = systemRules(db.name, deps);
  return async (writes, context) => {
    let answers: (NewDoc | Error)[] = writes.map((write) => write.doc);
    if (context.userCtx !== undefined)
      answers = await designDocRule(db.name, writes, answers, context.userCtx, deps);
    if (system && context.userCtx !== undefined) answers = await apply(system, writes, answers, context);
    return validateWithFunctions(db, writes, answers, context, deps);
  };
}

function systemRules(name: string, deps: WriteRulesDeps): WriteHook | undefined {
  if (name === USERS_DB) return usersWriteHook(deps.users);
  if (isReplicatorDb(name)) return replicatorWriteHook;
  return undefined;
}

/** Runs `hook` over the writes still standing, keeping earlier refusals. */
async function apply(
  hook: WriteHook,
  writes: readonly ProposedWrite[],
  answers: (NewDoc | Error)[],
  context: WriteHookContext,
): Promise<(NewDoc | Error)[]> {
  const standing = standingIndexes(answers);
  if (standing.length === 0) return answers;
  const results = await hook(
    standing.map((i) => ({ ...writes[i]!, doc: answers[i] as NewDoc })),
    context,
  );
  const next = [...answers];
  standing.forEach((index, i) => {
    next[index] = results[i]!;
  });
  return next;
}

function standingIndexes(answers: readonly (NewDoc | Error)[]): number[] {
  return answers.flatMap((answer, i) => (answer instanceof Error ? [] : [i]));
}

async function designDocRule(
  dbName: string,
  writes: readonly ProposedWrite[],
  answers: (NewDoc | Error)[],
  userCtx: UserContext,
  deps: WriteRulesDeps,
): Promise<(NewDoc | Error)[]> {
  if (!writes.some(({ doc }) => isDesign(doc))) return answers;
  if (isDbAdmin(userCtx, await deps.registry.security(dbName))) return answers;
  return answers.map((answer, i) =>
    isDesign(writes[i]!.doc) ? new SetteeError('forbidden', 'You are not a db or server admin.') : answer,
  );
}

function isDesign(doc: NewDoc): boolean {
  return typeof doc._id === 'string' && doc._id.startsWith('_design/');
}

async function validateWithFunctions(
  db: Database,
  writes: readonly ProposedWrite[],
  answers: (NewDoc | Error)[],
  context: WriteHookContext,
  deps: WriteRulesDeps,
): Promise<(NewDoc | Error)[]> {
  const functions = (await db.designDocs()).flatMap((ddoc) =>
    typeof ddoc.validate_doc_update === 'string'
      ? // Keyed by database too: two databases holding the same design revision share no globals.
        // The design document itself is what its `require` loads modules from, as in CouchDB.
        [
          {
            key: `${db.name}/${ddoc._id}@${ddoc._rev}`,
            source: ddoc.validate_doc_update,
            ddocId: ddoc._id,
            modules: ddoc,
          },
        ]
      : [],
  );
  if (functions.length === 0) return answers;
  // Design documents are judged by their writer's rights, not by the functions they carry.
  const judged = standingIndexes(answers).filter((i) => !isDesign(answers[i] as NewDoc));
  if (judged.length === 0) return answers;
  const items = await Promise.all(
    judged.map(async (i) => ({
      newDoc: asValidated(answers[i] as NewDoc),
      oldDoc: await writes[i]!.oldDoc(),
    })),
  );
  const userCtx = context.userCtx ?? SERVER_CTX;
  const outcomes = await deps.validator.validate({
    functions,
    items,
    userCtx: { db: db.name, name: userCtx.name, roles: userCtx.roles },
    secObj: await deps.registry.security(db.name),
  });
  const next = [...answers];
  judged.forEach((index, i) => {
    const outcome = outcomes[i];
    if (outcome && 'error' in outcome) next[index] = new SetteeError(outcome.error, outcome.reason);
  });
  return next;
}

/**
 * A document as validation functions see it, as CouchDB shows it to them: attachments as stubs
 * (their data is not the function's business, and would cost a copy into the sandbox).
 */
function asValidated(doc: NewDoc): Record<string, unknown> {
  if (!doc._attachments) return doc;
  const stubs: Record<string, unknown> = {};
  for (const [name, att] of Object.entries(doc._attachments)) {
    if (typeof att !== 'object' || att === null) continue;
    const { data, follows: _follows, ...meta } = att as Record<string, unknown>;
    stubs[name] = {
      ...meta,
      stub: true,
      ...(typeof data === 'string' ? { length: Math.floor((data.length * 3) / 4) } : {}),
    };
  }
  return { ...doc, _attachments: stubs };
}
