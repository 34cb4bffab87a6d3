/**
 * Replication jobs belong to whoever wrote them: a `_replicator` document gets its writer's
 * name as `owner` and its writer's user context as `user_ctx` (what the job runs as, as in
 * CouchDB), whatever the writer put there; only its owner (or a server admin) may change or
 * delete it. A server admin may write a job on a user's behalf by naming `owner` or `user_ctx`.
 */
import type { NewDoc, UserContext } from '../../core/api.js';
import { SetteeError } from '../../core/errors.js';
import type { ProposedWrite, WriteHook } from '../../database/write-hook.js';
import { isServerAdmin } from '../security.js';

export const replicatorWriteHook: WriteHook = (writes, { userCtx, newEdits }) =>
  Promise.all(writes.map((write) => owned(write, userCtx, newEdits).catch((error: Error) => error)));

async function owned(
  write: ProposedWrite,
  userCtx: UserContext | undefined,
  newEdits: boolean,
): Promise<NewDoc> {
  const { doc } = write;
  if (userCtx === undefined || typeof doc._id !== 'string' || doc._id.startsWith('_design/')) return doc;
  if (isServerAdmin(userCtx)) return onBehalf(doc, userCtx);
  // A replicated revision could start a winning branch on another user's job, whose losing
  // revisions (with their credentials) would then read as the intruder's. Edits only.
  if (!newEdits) throw new SetteeError('forbidden', 'Only server admins may replicate into _replicator.');
  const oldDoc = await write.oldDoc();
  if (oldDoc && !oldDoc._deleted && oldDoc.owner !== userCtx.name) {
    throw new SetteeError('forbidden', 'This replication document belongs to another user.');
  }
  return { ...doc, owner: userCtx.name, user_ctx: { name: userCtx.name, roles: userCtx.roles } };
}

/** A server admin's job: as the `user_ctx` or `owner` it names, else as that admin. */
function onBehalf(doc: NewDoc, admin: UserContext): NewDoc {
  if (isUserContext(doc.user_ctx)) {
    return { ...doc, owner: typeof doc.owner === 'string' ? doc.owner : doc.user_ctx.name };
  }
  if (typeof doc.owner === 'string' && doc.owner !== admin.name) {
    return { ...doc, user_ctx: { name: doc.owner, roles: [] } };
  }
  return { ...doc, owner: admin.name, user_ctx: { name: admin.name, roles: admin.roles } };
}

export function isUserContext(value: unknown): value is UserContext {
  if (typeof value !== 'object' || value === null) return false;
  const { name, roles } = value as Record<string, unknown>;
  return (
    (name === null || typeof name === 'string') &&
    Array.isArray(roles) &&
    roles.every((role) => typeof role === 'string')
  );
}
