/** One step of keeping media on a working path, with its wall-clock time (ms since the epoch). */
export type PathEvent = { at: number; event: string };

/**
 * What path recovery saw and did, and when: silence declared, ICE restarted, transports made anew,
 * connection states, the selected candidate pair, media flowing again. Transport directions,
 * protocols and states only (no ids, no PHI); read by diagnostics and the path-change benchmark.
 */
export class PathTimeline {
  readonly #entries: PathEvent[] = [];

  constructor(private readonly limit = 300) {}

  get entries(): readonly PathEvent[] {
    return this.#entries;
  }

  note(event: string, at = Date.now()) {
    this.#entries.push({ at, event });
    if (this.#entries.length > this.limit) this.#entries.shift();
  }
}
