/**
 * A hybrid logical clock (Kulkarni, Demirbas et al., "Logical Physical Clocks", 2014).
 *
 * Why not plain wall-clock timestamps: a device whose clock runs five minutes behind loses every
 * last-writer-wins race for five minutes, even against writes it has already seen, and a clock
 * stepped backwards (NTP, a user changing the time) makes a device's own later write look older
 * than its earlier one. A hybrid logical clock keeps the wall time when clocks behave, but never
 * goes backwards, and every stamp it issues after seeing another stamp (`receive`) is greater than
 * that stamp — so an edit made after reading a document always sorts after the version it edited,
 * whatever the two devices' clocks say.
 *
 * Stamps are strings that sort, as plain strings, in the clock's order:
 * `"<wall ms, 15 digits>-<counter, 4 digits>-<node>"`, e.g. `"001795460000000-0003-nodeA"`.
 * The node id makes stamps from different clocks distinct and breaks ties between them.
 */

/** Digits of the wall-time part: milliseconds up to the year 33658. */
const WALL_DIGITS = 15;
/** Digits of the counter part. */
const COUNTER_DIGITS = 4;
const MAX_WALL = 10 ** WALL_DIGITS - 1;
/** Past this, the clock moves its logical wall time one millisecond ahead instead (see `advance`). */
export const MAX_COUNTER = 10 ** COUNTER_DIGITS - 1;
/** A node id: 1–64 printable ASCII characters, no spaces. */
const NODE_PATTERN = /^[\x21-\x7e]{1,64}$/;
const STAMP_PATTERN = /^([0-9]{15})-([0-9]{4})-([\x21-\x7e]{1,64})$/;

/** Default bound on how far ahead of the local wall clock a received stamp may be: 10 minutes. */
export const DEFAULT_MAX_DRIFT = 10 * 60 * 1000;

/** A stamp split into its parts. */
export interface ParsedStamp {
  /** Logical wall time in milliseconds since the epoch. */
  wall: number;
  /** Events within the same logical millisecond. */
  counter: number;
  node: string;
}

/** Thrown by {@link HybridClock.receive} for a stamp too far ahead of the local clock. */
export class ClockDriftError extends RangeError {
  constructor(
    readonly remote: string,
    readonly drift: number,
    readonly maxDrift: number,
  ) {
    super(`stamp ${remote} is ${drift} ms ahead of the local clock (at most ${maxDrift} allowed)`);
    this.name = 'ClockDriftError';
  }
}

/** Options of a {@link HybridClock}. */
export interface HybridClockOptions {
  /**
   * How many milliseconds a received stamp may be ahead of the local wall clock before `receive`
   * refuses it. Default {@link DEFAULT_MAX_DRIFT}; `Infinity` accepts any stamp.
   */
  maxDrift?: number;
  /**
   * The last stamp this node issued before a restart (persist it), so the new clock never issues
   * a smaller one even if the wall clock went backwards meanwhile.
   */
  last?: string;
}

/** What stamping a document needs from a clock; {@link HybridClock} is the implementation. */
export interface StampClock {
  tick(): string;
  receive(remote: string): string;
}

/** True when `value` is a well-formed stamp. */
export function isStamp(value: unknown): value is string {
  return typeof value === 'string' && STAMP_PATTERN.test(value);
}

/**
 * Splits a stamp into wall time, counter and node.
 * @throws RangeError when `stamp` is not a well-formed stamp.
 */
export function parseStamp(stamp: string): ParsedStamp {
  const match = STAMP_PATTERN.exec(stamp);
  if (!match) throw new RangeError(`not a clock stamp: ${JSON.stringify(stamp)}`);
  return { wall: Number(match[1]), counter: Number(match[2]), node: match[3]! };
}

/**
 * Formats a stamp from its parts.
 * @throws RangeError when a part is out of range or the node id is not allowed.
 */
export function formatStamp({ wall, counter, node }: ParsedStamp): string {
  if (!Number.isInteger(wall) || wall < 0 || wall > MAX_WALL) throw new RangeError(`wall time ${wall}`);
  if (!Number.isInteger(counter) || counter < 0 || counter > MAX_COUNTER) {
    throw new RangeError(`counter ${counter}`);
  }
  checkNode(node);
  return `${String(wall).padStart(WALL_DIGITS, '0')}-${String(counter).padStart(COUNTER_DIGITS, '0')}-${node}`;
}

/**
 * Orders two stamps: negative when `a` is earlier, positive when later, 0 when equal. Because the
 * number parts have a fixed width, this is plain string comparison.
 */
export function compareStamps(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The greater of two stamps. */
export function maxStamp(a: string, b: string): string {
  return a < b ? b : a;
}

/**
 * A hybrid logical clock for one node (a replica, a device). Stamps it issues increase strictly,
 * even when the wall clock goes backwards; a stamp issued by `receive(remote)` is greater than
 * `remote` and than every stamp issued before.
 *
 * Drift rule: `receive` **refuses** a stamp more than `maxDrift` ms ahead of the local wall clock
 * with a {@link ClockDriftError} and leaves the clock unchanged. Adopting it would drag this
 * clock — and every stamp it issues later — into a skewed node's future, which is how one bad
 * clock makes a whole system's last-writer-wins unfair; clamping it instead would break the
 * promise that a received stamp is exceeded. The caller decides what to do with the message.
 *
 * @example
 * const clock = new HybridClock('laptop');
 * const a = clock.tick();                   // "001795460000000-0000-laptop"
 * const b = clock.receive(stampFromServer); // greater than a and than stampFromServer
 */
export class HybridClock implements StampClock {
  readonly node: string;
  readonly maxDrift: number;
  private readonly now: () => number;
  private wall = 0;
  private counter = -1;

  /**
   * @param node this clock's node id, unique among the nodes that share documents.
   * @param now the physical clock, milliseconds since the epoch (default `Date.now`).
   */
  constructor(node: string, now: () => number = Date.now, options: HybridClockOptions = {}) {
    checkNode(node);
    this.node = node;
    this.now = now;
    this.maxDrift = options.maxDrift ?? DEFAULT_MAX_DRIFT;
    if (!(this.maxDrift >= 0)) throw new RangeError(`maxDrift ${this.maxDrift}`);
    if (options.last !== undefined) {
      const last = parseStamp(options.last);
      this.wall = last.wall;
      this.counter = last.counter;
    }
  }

  /** The last stamp issued, or undefined before the first. */
  get last(): string | undefined {
    return this.counter < 0 ? undefined : this.format();
  }

  /** A new stamp for a local event (a write). */
  tick(): string {
    const physical = this.physical();
    if (physical > this.wall) this.set(physical, 0);
    else this.advance(this.wall, this.counter + 1);
    return this.format();
  }

  /**
   * A new stamp for an event that follows a stamp seen from elsewhere (a document read or
   * replicated in): greater than `remote` and than every stamp this clock issued before.
   * @throws ClockDriftError when `remote` is more than `maxDrift` ms ahead of the local wall clock.
   * @throws RangeError when `remote` is not a well-formed stamp.
   */
  receive(remote: string): string {
    const theirs = parseStamp(remote);
    const physical = this.physical();
    const drift = theirs.wall - physical;
    if (drift > this.maxDrift) throw new ClockDriftError(remote, drift, this.maxDrift);
    const wall = Math.max(this.wall, theirs.wall, physical);
    if (wall === this.wall && wall === theirs.wall) {
      this.advance(wall, Math.max(this.counter, theirs.counter) + 1);
    } else if (wall === this.wall) {
      this.advance(wall, this.counter + 1);
    } else if (wall === theirs.wall) {
      this.advance(wall, theirs.counter + 1);
    } else {
      this.set(wall, 0);
    }
    return this.format();
  }

  private physical(): number {
    const value = Math.floor(this.now());
    return Number.isFinite(value) && value > 0 ? Math.min(value, MAX_WALL) : 0;
  }

  /**
   * Sets the state, or — when the counter would overflow its digits — moves the logical wall time
   * one millisecond ahead with a zero counter, which still sorts after everything before.
   */
  private advance(wall: number, counter: number): void {
    if (counter > MAX_COUNTER) this.set(wall + 1, 0);
    else this.set(wall, counter);
  }

  private set(wall: number, counter: number): void {
    if (wall > MAX_WALL) throw new RangeError('clock overflow');
    this.wall = wall;
    this.counter = counter;
  }

  private format(): string {
    return formatStamp({ wall: this.wall, counter: this.counter, node: this.node });
  }
}

function checkNode(node: string): void {
  if (!NODE_PATTERN.test(node)) {
    throw new RangeError(`node id must be 1-64 printable ASCII characters without spaces: ${node}`);
  }
}
