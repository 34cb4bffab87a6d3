import { ancestry } from './history.js';
import { collectLeaves, rememberLeaves, toLeaf } from './leaves.js';
import type { RevNode, RevTree } from './types.js';

/**
 * Revisions of a line in order, oldest first, shared by every `Line` cut from it. Slots are only
 * ever appended, never changed, so a window over them stays what it was however far later lines
 * slid along.
 */
interface Slots {
  readonly revs: string[];
  /** Each revision as an ancestor: its parent the revision before it, no body. */
  readonly ancestors: RevNode[];
  /** Each revision as the oldest one kept (no parent), made when first asked for. */
  readonly roots: (RevNode | undefined)[];
  readonly slotOf: Map<string, number>;
}

/** A revision a local edit appends to a line (see `Line.extend`). */
export interface LineEdit {
  readonly rev: string;
  readonly gen: number;
  readonly hash: string;
  readonly deleted: boolean;
  readonly hasBody: boolean;
}

/** A line extended: the new line and the revisions whose stored rows the edit changes. */
export interface Extended {
  tree: Line;
  touched: string[];
}

/** Slots dropped behind the oldest kept revision are copied away past this many (and the line's length). */
const MIN_SLACK = 64;

/**
 * A linear document's tree (docs/linear-history.md) — one line, only its newest revision with
 * a body, its oldest a root — held as a window over append-only slots. It is an ordinary
 * `RevTree`, immutable like every tree, but a local edit extends it in time independent of its
 * length: the window slides one slot along the same slots (copied only when another line was
 * cut from them past this one, or when the slots dropped behind outgrow the line), so that a
 * document edited a hundred thousand times costs each edit as much as its first.
 */
export class Line implements RevTree {
  private constructor(
    private readonly slots: Slots,
    private readonly from: number,
    private readonly to: number,
    /** The newest revision, the line's one leaf. */
    private readonly head: RevNode,
  ) {
    rememberLeaves(this, [toLeaf(slots.revs[to - 1]!, head)]);
  }

  /**
   * `rev`'s line in `tree`: its ancestry, at most `limit` revisions, the oldest kept one a root;
   * only `rev` keeps its body (its ancestors become ids). Whatever else the tree held is gone.
   */
  static cut(tree: RevTree, rev: string, limit: number): Line {
    checkLimit(limit);
    const kept = ancestry(tree, rev).slice(0, limit).reverse();
    const nodes = kept.map((at) => tree.get(at)!);
    return Line.over(kept, nodes, nodes[nodes.length - 1]!.hasBody);
  }

  /**
   * `tree` as a `Line` when it is one already in all but its type — a single leaf, whose
   * ancestry is the whole tree, with a root at its start and no ancestor holding a body — as a
   * linear document's tree read from storage is; otherwise undefined.
   */
  static of(tree: RevTree): Line | undefined {
    if (tree instanceof Line) return tree;
    const leaves = collectLeaves(tree);
    if (leaves.length !== 1) return undefined;
    const kept = ancestry(tree, leaves[0]!.rev).reverse();
    const nodes = kept.map((at) => tree.get(at)!);
    const bodiless = nodes.every((node, i) => i === nodes.length - 1 || !node.hasBody);
    if (kept.length !== tree.size || nodes[0]!.parent !== null || !bodiless) return undefined;
    return Line.over(kept, nodes, leaves[0]!.hasBody);
  }

  /** A line over fresh slots holding `revs` (oldest first, their nodes in `nodes`). */
  private static over(revs: string[], nodes: readonly RevNode[], headHasBody: boolean): Line {
    const ancestors = nodes.map((node, i) => asAncestor(node, i === 0 ? null : revs[i - 1]!));
    const slots: Slots = { revs, ancestors, roots: [], slotOf: new Map(revs.map((rev, i) => [rev, i])) };
    const last = ancestors.length - 1;
    const head = { ...ancestors[last]!, hasBody: headHasBody };
    return new Line(slots, 0, revs.length, head);
  }

  /**
   * The line with `edit` appended as the child of its newest revision, which keeps no body: what
   * a local edit of a linear document writes. Past `limit` plus a tenth, the oldest revisions are
   * dropped back to `limit` — in steps, as a tree is stemmed, so that most edits drop no row (see
   * `last` for what settling looks at). Returns the revisions whose stored rows change — the new
   * one, its parent, the dropped ones and the new oldest one — so the write diffs only them.
   */
  extend(edit: LineEdit, limit: number): Extended {
    checkLimit(limit);
    if (edit.gen !== this.head.gen + 1) throw new RangeError(`${edit.rev} is not a child of the line's head`);
    const base = this.appendable();
    const { slots } = base;
    const parent = slots.revs[base.to - 1]!;
    slots.revs.push(edit.rev);
    slots.ancestors.push(asAncestor(edit, parent));
    slots.slotOf.set(edit.rev, base.to);
    const to = base.to + 1;
    const from = to - base.from > limit + slack(limit) ? to - limit : base.from;
    // The parent loses its body; past the limit, the oldest go and the new oldest loses its parent.
    const moved = from > base.from ? slots.revs.slice(base.from, from + 1) : [];
    const touched = new Set([edit.rev, parent, ...moved]);
    const head: RevNode = {
      gen: edit.gen,
      hash: edit.hash,
      parent: from === base.to ? null : parent,
      deleted: edit.deleted,
      hasBody: edit.hasBody,
    };
    return { tree: new Line(slots, from, to, head), touched: [...touched] };
  }

  /**
   * The line's newest `limit` revisions (itself when it holds no more): what a linear document's
   * replicated writes are settled against, so that two replicas holding the same revision settle
   * alike however many older ids each still keeps.
   */
  last(limit: number): Line {
    checkLimit(limit);
    return this.size <= limit ? this : new Line(this.slots, this.to - limit, this.to, this.head);
  }

  /** This line, over slots it may append to: its own, or a copy of its window. */
  private appendable(): Line {
    const { revs, ancestors } = this.slots;
    if (revs.length === this.to && this.from <= Math.max(MIN_SLACK, this.size)) return this;
    const nodes = ancestors.slice(this.from, this.to);
    nodes[0] = this.rootAt(this.from);
    return Line.over(revs.slice(this.from, this.to), nodes, this.head.hasBody);
  }

  /** The newest revision: the line's one leaf. */
  get newest(): string {
    return this.slots.revs[this.to - 1]!;
  }

  get size(): number {
    return this.to - this.from;
  }

  get(rev: string): RevNode | undefined {
    const slot = this.slots.slotOf.get(rev);
    if (slot === undefined || slot < this.from || slot >= this.to) return undefined;
    if (slot === this.to - 1) return this.head;
    return slot === this.from ? this.rootAt(slot) : this.slots.ancestors[slot];
  }

  has(rev: string): boolean {
    return this.get(rev) !== undefined;
  }

  private rootAt(slot: number): RevNode {
    const { roots, ancestors } = this.slots;
    return (roots[slot] ??= { ...ancestors[slot]!, parent: null });
  }

  /** The entries oldest first; iterating costs a copy of the line, which only rare reads pay. */
  entries(): MapIterator<[string, RevNode]> {
    const { revs } = this.slots;
    const entries: [string, RevNode][] = [];
    for (let slot = this.from; slot < this.to; slot++) entries.push([revs[slot]!, this.get(revs[slot]!)!]);
    return entries.values();
  }

  keys(): MapIterator<string> {
    return this.slots.revs.slice(this.from, this.to).values();
  }

  values(): MapIterator<RevNode> {
    return Array.from(this.entries(), ([, node]) => node).values();
  }

  [Symbol.iterator](): MapIterator<[string, RevNode]> {
    return this.entries();
  }

  forEach(callback: (value: RevNode, key: string, map: RevTree) => void, thisArg?: unknown): void {
    for (const [rev, node] of this.entries()) callback.call(thisArg, node, rev, this);
  }
}

/**
 * How far past `limit` a line grows before its oldest revisions are dropped: a tenth, as a tree
 * grows before it is stemmed, so that dropping them costs an edit one row now and then.
 */
function slack(limit: number): number {
  return Math.floor(limit / 10);
}

function asAncestor(node: Omit<RevNode, 'parent'>, parent: string | null): RevNode {
  return { gen: node.gen, hash: node.hash, parent, deleted: node.deleted, hasBody: false };
}

export function checkLimit(limit: number): void {
  if (!Number.isInteger(limit) || limit < 1) throw new RangeError('revs_limit must be a positive integer');
}
