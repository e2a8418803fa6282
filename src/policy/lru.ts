// A bounded least-recently-used map: the decision cache's storage. A Map keeps insertion order,
// so re-inserting on every hit leaves the least recently used entry first, where eviction looks.

export class Lru<K, V> {
  readonly capacity: number;
  readonly #entries = new Map<K, V>();

  /** `capacity` 0 stores nothing. */
  constructor(capacity: number) {
    if (!Number.isSafeInteger(capacity) || capacity < 0)
      throw new RangeError(`Lru capacity must be a whole number ≥ 0, not ${capacity}`);
    this.capacity = capacity;
  }

  get size(): number {
    return this.#entries.size;
  }

  get(key: K): V | undefined {
    const value = this.#entries.get(key);
    if (value !== undefined) {
      this.#entries.delete(key);
      this.#entries.set(key, value);
    }
    return value;
  }

  set(key: K, value: V): void {
    if (this.capacity === 0) return;
    this.#entries.delete(key);
    this.#entries.set(key, value);
    if (this.#entries.size > this.capacity) this.#entries.delete(this.#entries.keys().next().value as K);
  }
}
