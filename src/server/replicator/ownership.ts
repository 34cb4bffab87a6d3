/**
 * Replication jobs belong to whoever wrote them: a `_replicator` document gets its writer's
 * name as `owner`, only its owner (or a server admin) may change or delete it, and the job runs
 * with its owner's rights. A server admin may write a job on a user's behalf by naming `owner`.
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
  if (isServerAdmin(userCtx)) {
    return typeof doc.owner === 'string' || userCtx.name === null ? doc : { ...doc, owner: userCtx.name };
  }
  // A replicated revision could start a winning branch on another user's job, whose losing
  // revisions (with their credentials) would then read as the intruder's. Edits only.
  if (!newEdits) throw new SetteeError('forbidden', 'Only server admins may replicate into _replicator.');
  const oldDoc = await write.oldDoc();
  if (oldDoc && !oldDoc._deleted && oldDoc.owner !== userCtx.name) {
    throw new SetteeError('forbidden', 'This replication document belongs to another user.');
  }
  return { ...doc, owner: userCtx.name };
}
