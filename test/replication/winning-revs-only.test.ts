/**
 * `winning_revs_only`: only each document's winning revision is replicated, so the target
 * receives none of the source's conflicts. What CouchDB does, read in its sources:
 *
 * - apache/couchdb#4095 ("Implement winning_revs_only option for the replicator"): the only
 *   change to the replication is the source's `_changes` read with `style=main_only` instead of
 *   `all_docs`; `_revs_diff`, the fetch of revisions and the `new_edits=false` writes stay as
 *   they are. So a winner arrives with its whole ancestry, and a revision the target already
 *   holds stays there: when a later winner on the source is on another branch, the target's
 *   previous revision becomes a losing leaf beside it (tested below).
 * - src/couch_replicator/test/eunit/couch_replicator_many_leaves_tests.erl
 *   (`should_replicate_winning_revs_only`, `verify_target(…, winning_revs)`): the target's winner
 *   equals the source's, and `open_revs=all` on the target finds exactly one leaf.
 * - src/docs/src/replication/replicator.rst ("Replicate Winning Revisions Only"): the option gives
 *   replication ids and checkpoints of their own, so a plain replication between the same
 *   databases later "backfills" the other revisions; it combines with filters, `continuous` and
 *   `create_target`.
 *
 * - CouchDB's replicator fetches revisions with `latest=true` (cloudant/couch_replicator#6, "Use
 *   latest=true when retrieving revisions", kept since), which, for a winner edited between the
 *   read of the changes and the fetch, brings every leaf descended from it: conflicts would leak
 *   in. Settee fetches the named winner without `latest` in this mode (tested below; the new
 *   winner comes with the document's next change), a documented difference.
 *
 * Settee's replication id hashes PouchDB's fields (replication-id.ts); the option enters it by
 * its name, and only when true, as `skip_deleted_on_first_pull` does.
 */
import { describe, expect, it } from 'vitest';
import type { Doc, Peer } from '../../src/core/api.js';
import type { Database } from '../../src/database/database.js';
import { replicate, replicationId, sync } from '../../src/replication/index.js';
import { checkpointOn, dbState, peerOver, waitFor, winnerOf } from './helpers.js';
import { type SideKind, useSides } from './sides.js';
import {
  A,
  addBranches,
  B,
  conflicted,
  expectWinnersOnly,
  fillSource,
  leafRevs,
  leaves,
  winnerWithHistory,
} from './winning-revs-only.fixtures.js';

const sides = useSides();

/** Both directions over HTTP, and both local: a pull from a server and a push to one. */
const PAIRS: [name: string, source: SideKind, target: SideKind][] = [
  ['local → local', 'local', 'local'],
  ['local → http', 'local', 'http'],
  ['http → local', 'http', 'local'],
  ['http → http', 'http', 'http'],
];

/** What `get` shows of the source's documents on a target that holds only their winners. */
async function expectNoConflictsShown(target: Database): Promise<void> {
  const winner = await winnerOf(target, 'both-live');
  expect(winner).toMatchObject({ _rev: `2-${B}`, v: 'b' });
  expect(winner).not.toHaveProperty('_conflicts');
  expect(await winnerOf(target, 'loser-deleted')).not.toHaveProperty('_deleted_conflicts');
  expect(await winnerOf(target, 'all-deleted')).toBe('deleted');
  expect(await winnerOf(target, 'deleted')).toBe('deleted');
}

describe.each(PAIRS)('%s', (_name, sourceKind, targetKind) => {
  const pair = async (): Promise<[Database, Database, Peer, Peer]> => {
    const source = await sides.open(sourceKind);
    const target = await sides.open(targetKind);
    return [source, target, sides.peer(source), sides.peer(target)];
  };

  it('gives an empty target only the winners: no conflicts; deleted winners as tombstones', async () => {
    const [source, target, from, to] = await pair();
    await fillSource(source);
    const result = await replicate(from, to, { winning_revs_only: true }).done;
    expect(result).toMatchObject({ status: 'complete', docs_read: 5, docs_written: 5 });
    await expectWinnersOnly(source, target);
    await expectNoConflictsShown(target);
  });

  it('without the option, the same source gives the target its conflicts (the control)', async () => {
    const [source, target, from, to] = await pair();
    await fillSource(source);
    await replicate(from, to).done;
    expect(await leaves(target, 'both-live')).toHaveLength(2);
    expect(await winnerOf(target, 'both-live')).toMatchObject({ _conflicts: [`2-${A}`] });
  });
});

describe('the replication id', () => {
  it('differs with the option, only when true, filters or not', async () => {
    const source = await sides.open();
    const target = await sides.open();
    const plain = await replicationId(source, target);
    const winners = await replicationId(source, target, { winning_revs_only: true });
    expect(winners).not.toBe(plain);
    expect(await replicationId(source, target, { winning_revs_only: false })).toBe(plain);
    const byIds = await replicationId(source, target, { doc_ids: ['x'] });
    const byIdsWinners = await replicationId(source, target, { doc_ids: ['x'], winning_revs_only: true });
    expect(new Set([plain, winners, byIds, byIdsWinners]).size).toBe(4);
  });

  it('keeps its own checkpoints: a plain replication afterwards backfills the losing revisions', async () => {
    const source = await sides.open();
    const target = await sides.open();
    await fillSource(source);
    await replicate(source, target, { winning_revs_only: true }).done;
    const winnersId = await replicationId(source, target, { winning_revs_only: true });
    const plainId = await replicationId(source, target);
    expect((await checkpointOn(target, winnersId))?.last_seq).toBe((await source.info()).update_seq);
    expect(await checkpointOn(target, plainId)).toBeUndefined();

    // Starts from 0 (not from the other checkpoint) and writes only what the target lacks.
    const backfill = await replicate(source, target).done;
    expect(backfill).toMatchObject({ docs_read: 3, docs_written: 3 });
    expect(await dbState(target)).toEqual(await dbState(source));
  });
});

describe('a later change of the winner', () => {
  it('on another branch: the new winner replicates, the target keeps its revision as a losing leaf', async () => {
    const source = await sides.open();
    const target = await sides.open();
    await conflicted(source, 'doc');
    await replicate(source, target, { winning_revs_only: true }).done;
    expect(await leafRevs(target, 'doc')).toEqual([`2-${B}`]);

    // The losing branch grows longer and wins on the source.
    const edited = await source.put({ _id: 'doc', _rev: `2-${A}`, v: 'a2' });
    await replicate(source, target, { winning_revs_only: true }).done;
    expect(await winnerOf(target, 'doc')).toMatchObject({
      _rev: edited.rev,
      v: 'a2',
      _conflicts: [`2-${B}`],
    });
    expect(await winnerOf(source, 'doc')).toMatchObject({ _rev: edited.rev, _conflicts: [`2-${B}`] });
  });

  it('by deleting the winner: the target gets the other branch but keeps (and still shows) its own', async () => {
    const source = await sides.open();
    const target = await sides.open();
    await conflicted(source, 'doc');
    await replicate(source, target, { winning_revs_only: true }).done;
    await source.remove('doc', `2-${B}`);
    expect(await winnerOf(source, 'doc')).toMatchObject({ _rev: `2-${A}` });

    await replicate(source, target, { winning_revs_only: true }).done;
    // The deletion is on a losing branch now: main_only never reads it, so 2-bbb… stays live on
    // the target and still wins there (docs/replication.md says to resolve by deleting losers).
    expect(await winnerOf(target, 'doc')).toMatchObject({ _rev: `2-${B}`, _conflicts: [`2-${A}`] });
  });

  it('on the same branch (losers deleted or the winner edited): the target keeps one leaf', async () => {
    const source = await sides.open();
    const target = await sides.open();
    await conflicted(source, 'doc');
    await replicate(source, target, { winning_revs_only: true }).done;
    await source.remove('doc', `2-${A}`);
    const edited = await source.put({ _id: 'doc', _rev: `2-${B}`, v: 'b2' });
    await replicate(source, target, { winning_revs_only: true }).done;
    expect(await leafRevs(target, 'doc')).toEqual([edited.rev]);
  });
});

describe('a winner edited while it is being replicated', () => {
  it('is fetched as the revision the changes named, not as its leaves (no conflicts leak in)', async () => {
    const source = await sides.open();
    const target = await sides.open();
    const root = (await source.put({ _id: 'doc', v: 'root' })).rev;
    // Between the read of the changes and the fetch, the document gets two branches.
    let interfered = false;
    const racing = peerOver(source, {
      bulkGet: async (request, options) => {
        if (!interfered) {
          interfered = true;
          await addBranches(source, 'doc', root);
        }
        return source.bulkGet(request, options);
      },
    });
    await replicate(racing, target, { winning_revs_only: true }).done;
    expect(await leafRevs(target, 'doc')).toEqual([root]);
    // The new winner comes with the document's next change.
    await replicate(source, target, { winning_revs_only: true }).done;
    expect(await leafRevs(target, 'doc')).toEqual([`2-${B}`]);
  });
});

describe('live, and in a sync', () => {
  it('a continuous replication passes on winners only, deletions included', async () => {
    const source = await sides.open();
    const target = await sides.open('http');
    const live = replicate(source, sides.peer(target), { winning_revs_only: true, live: true });
    try {
      await live.idle();
      await conflicted(source, 'later');
      const winnerArrived = async () => ((await winnerOf(target, 'later')) as Doc)._rev === `2-${B}`;
      await waitFor(winnerArrived, 'the winner of the conflicted doc');
      expect(await leafRevs(target, 'later')).toEqual([`2-${B}`]);

      // Resolved by deleting the loser, then the document deleted: a deleted winner.
      await source.remove('later', `2-${A}`);
      const edited = await source.put({ _id: 'later', _rev: `2-${B}`, v: 'b2' });
      await source.remove('later', edited.rev);
      await waitFor(async () => (await winnerOf(target, 'later')) === 'deleted', 'the deleted winner');
      expect(await leaves(target, 'later')).toEqual([await winnerWithHistory(source, 'later')]);
    } finally {
      live.cancel();
      await live.done;
    }
  });

  it('sync() passes the option to both directions', async () => {
    const a = await sides.open();
    const b = await sides.open();
    await conflicted(a, 'from-a');
    await conflicted(b, 'from-b');
    await sync(a, b, { winning_revs_only: true }).done;
    expect(await leaves(b, 'from-a')).toEqual([await winnerWithHistory(a, 'from-a')]);
    expect(await leaves(a, 'from-b')).toEqual([await winnerWithHistory(b, 'from-b')]);
    expect(await leaves(a, 'from-a')).toHaveLength(2);
  });
});
