import type { types } from 'mediasoup-client';

export type Source = 'mic' | 'webcam' | 'screen';
export type Publication = { readonly track: MediaStreamTrack; readonly producer: types.Producer | undefined };

type Entry = {
  track: MediaStreamTrack;
  producer: types.Producer | undefined;
  inflight: Promise<types.Producer> | undefined;
};

/** The produce in flight was for transports that are gone (media reset, rejoin): produce again. */
export class PublicationSuperseded extends Error {
  override name = 'PublicationSuperseded';
}

/**
 * What this participant publishes, one producer per source. Everything that produces (the page's
 * publish, re-publishing after admission, a media reset or a rejoin) goes through ensure(), which
 * shares the one produce in flight for a source: two callers never make two webcam producers.
 */
export class Publications {
  readonly #entries = new Map<Source, Entry>();
  /** Bumped when transports are dropped: a produce started before belongs to the old ones. */
  #generation = 0;

  constructor(
    private readonly produce: (track: MediaStreamTrack, source: Source) => Promise<types.Producer>,
    /** Tells the server to drop a producer made for a source nobody publishes any more. */
    private readonly closeRemote: (producerId: string) => Promise<unknown>,
  ) {}

  get view(): ReadonlyMap<Source, Publication> {
    return this.#entries;
  }

  /** Records what to send for a source; an existing producer switches to the new track in place. */
  async set(source: Source, track: MediaStreamTrack): Promise<void> {
    const entry = this.#entries.get(source);
    if (!entry) {
      this.#entries.set(source, { track, producer: undefined, inflight: undefined });
      return;
    }
    if (entry.track === track) return;
    entry.track = track;
    // In flight: #run swaps the track once the producer exists.
    if (entry.producer && !entry.producer.closed) await entry.producer.replaceTrack({ track });
  }

  /** The live producer of a source, the one being created, or a new one. */
  ensure(source: Source): Promise<types.Producer> {
    const entry = this.#entries.get(source);
    if (!entry) return Promise.reject(new Error(`${source} is not published`));
    if (entry.producer && !entry.producer.closed) return Promise.resolve(entry.producer);
    if (!entry.inflight) {
      const inflight = this.#run(source, entry, this.#generation).finally(() => {
        if (entry.inflight === inflight) entry.inflight = undefined;
      });
      entry.inflight = inflight;
    }
    return entry.inflight;
  }

  /** After admission or renegotiation: every source gets its producer (shared with calls in flight). */
  async ensureAll(onError: (err: Error) => void) {
    for (const source of [...this.#entries.keys()]) {
      await this.ensure(source).catch((err: Error) => {
        if (!(err instanceof PublicationSuperseded)) onError(err);
      });
    }
  }

  /** Stops publishing a source; returns its producer (closed here) so the caller can tell the server. */
  remove(source: Source): types.Producer | undefined {
    const entry = this.#entries.get(source);
    this.#entries.delete(source);
    if (!entry?.producer) return undefined;
    entry.producer.close();
    return entry.producer;
  }

  /** The transports are gone: producers with them; the tracks stay, to be produced again. */
  reset() {
    this.#generation++;
    for (const entry of this.#entries.values()) {
      entry.producer = undefined;
      entry.inflight = undefined;
    }
  }

  sourceOf(producerId: string): Source | undefined {
    for (const [source, entry] of this.#entries) if (entry.producer?.id === producerId) return source;
    return undefined;
  }

  async #run(source: Source, entry: Entry, generation: number): Promise<types.Producer> {
    let producer: types.Producer;
    try {
      producer = await this.produce(entry.track, source);
    } catch (err) {
      if (generation !== this.#generation)
        throw new PublicationSuperseded('transports replaced while producing');
      throw err;
    }
    if (generation !== this.#generation || this.#entries.get(source) !== entry) {
      // Made for transports that were dropped meanwhile, or for a source unpublished meanwhile.
      const stale = !producer.closed;
      producer.close();
      if (stale && this.#entries.get(source) !== entry)
        void this.closeRemote(producer.id).catch(() => undefined);
      if (this.#entries.get(source) !== entry) throw new Error(`${source} was unpublished`);
      throw new PublicationSuperseded('transports replaced while producing');
    }
    if (producer.track !== entry.track) await producer.replaceTrack({ track: entry.track });
    entry.producer = producer;
    return producer;
  }
}
