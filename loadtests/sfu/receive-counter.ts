/**
 * Loss seen by a bot on one stream, from RTP sequence numbers: expected = span of extended
 * sequence numbers, received = packets that arrived. Duplicates (retransmissions) count once per arrival.
 */
export class ReceiveCounter {
  received = 0;
  #base = -1;
  #maxExt = -1;
  #cycles = 0;
  #lastSeq = -1;

  onPacket(seq: number) {
    this.received++;
    if (this.#base < 0) {
      this.#base = seq;
      this.#maxExt = seq;
      this.#lastSeq = seq;
      return;
    }
    if (seq < this.#lastSeq && this.#lastSeq - seq > 0x8000) this.#cycles += 0x10000;
    else if (seq > this.#lastSeq && seq - this.#lastSeq > 0x8000) return; // late packet from before a wrap
    const ext = this.#cycles + seq;
    if (ext > this.#maxExt) this.#maxExt = ext;
    this.#lastSeq = ext === this.#maxExt ? seq : this.#lastSeq;
  }

  get expected() {
    return this.#base < 0 ? 0 : this.#maxExt - this.#base + 1;
  }
}
