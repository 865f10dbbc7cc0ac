/** Bytes received in pieces of any size, taken out in pieces of a chosen size without copying whole buffers around. */
export class ByteQueue {
  #parts: Uint8Array[] = [];
  #length = 0;

  get length(): number {
    return this.#length;
  }

  append(bytes: Uint8Array): void {
    if (bytes.length === 0) return;
    this.#parts.push(bytes);
    this.#length += bytes.length;
  }

  /** The next `n` bytes (n <= length): a view when they lie in one part, a copy otherwise. */
  take(n: number): Uint8Array {
    if (n > this.#length) throw new RangeError('not enough bytes queued');
    this.#length -= n;
    const first = this.#parts[0];
    if (n === 0) return new Uint8Array(0);
    if (first!.length >= n) {
      if (first!.length === n) this.#parts.shift();
      else this.#parts[0] = first!.subarray(n);
      return first!.subarray(0, n);
    }
    const out = new Uint8Array(n);
    let at = 0;
    while (at < n) {
      const part = this.#parts[0]!;
      const used = Math.min(part.length, n - at);
      out.set(part.subarray(0, used), at);
      at += used;
      if (used === part.length) this.#parts.shift();
      else this.#parts[0] = part.subarray(used);
    }
    return out;
  }
}
