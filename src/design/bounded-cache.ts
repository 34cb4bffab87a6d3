/**
 * A map that keeps its `capacity` most recently used entries and hands each evicted value to
 * `onEvict` (which disposes the QuickJS handles it holds). A Map iterates in insertion order,
 * so re-inserting on use keeps the least recently used entry first.
 */
export class BoundedCache<V> {
  private readonly map = new Map<string, V>();
  private readonly capacity: number;
  private readonly onEvict: (key: string, value: V) => void;

  constructor(capacity: number, onEvict: (key: string, value: V) => void) {
    if (!Number.isInteger(capacity) || capacity < 1)
      throw new RangeError('capacity must be a positive integer');
    this.capacity = capacity;
    this.onEvict = onEvict;
  }

  get size(): number {
    return this.map.size;
  }

  /** The value under `key`, now the most recently used; `undefined` if absent. */
  get(key: string): V | undefined {
    const value = this.map.get(key);
    if (value === undefined) return undefined;
    this.map.delete(key);
    this.map.set(key, value);
    return value;
  }

  /** Stores `value` as the most recently used, evicting the least recently used beyond capacity. */
  set(key: string, value: V): void {
    const previous = this.map.get(key);
    this.map.delete(key);
    if (previous !== undefined && previous !== value) this.onEvict(key, previous);
    this.map.set(key, value);
    for (const [oldest, evicted] of this.map) {
      if (this.map.size <= this.capacity) break;
      this.map.delete(oldest);
      this.onEvict(oldest, evicted);
    }
  }

  /** Removes `key` without handing its value to `onEvict`: the caller owns it again. */
  delete(key: string): boolean {
    return this.map.delete(key);
  }

  /** Every entry, least recently used first, without touching their order. */
  entries(): IterableIterator<[string, V]> {
    return this.map.entries();
  }

  /** Removes every entry, handing each to `onEvict`. */
  clear(): void {
    const all = [...this.map];
    this.map.clear();
    for (const [key, value] of all) this.onEvict(key, value);
  }
}
