import { ProblemError } from '../api/errors.ts';
import { HASH_RETRY_AFTER_SECONDS } from './hash-pool.ts';
import { PROBLEM } from '../api/problem-codes.ts';

/** A known browser may have this many of its own requests in progress at once. */
const PER_DEVICE = 2;

/**
 * How many unauthenticated sign-in and invitation requests the node works on at once, per lane:
 * browsers with a signed known-device cookie in one, everyone else in the other. Each such request
 * costs several queries and maybe a hash; without this bound a flood from many addresses queues
 * thousands of them in front of the database pool, and a genuine sign-in waits behind all of them.
 * Beyond the bound the answer is an immediate 503 with Retry-After, before any query. One device
 * holds at most PER_DEVICE slots, so a single stolen or self-made cookie cannot fill the known lane.
 */
export class SignInAdmission {
  #inFlight = { known: 0, unknown: 0 };
  readonly #perDevice = new Map<string, number>();

  constructor(private readonly perLane: number) {}

  /** Takes a slot (the release function frees it) or throws the 503. */
  enter(deviceId: string | undefined): () => void {
    const lane = deviceId && (this.#perDevice.get(deviceId) ?? 0) < PER_DEVICE ? 'known' : 'unknown';
    if (this.#inFlight[lane] >= this.perLane) {
      throw new ProblemError(
        503,
        PROBLEM.overloaded,
        `sign-in is busy; retry in ${HASH_RETRY_AFTER_SECONDS} seconds`,
        [],
        HASH_RETRY_AFTER_SECONDS,
      );
    }
    this.#inFlight[lane]++;
    if (lane === 'known') this.#perDevice.set(deviceId!, (this.#perDevice.get(deviceId!) ?? 0) + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#inFlight[lane]--;
      if (lane !== 'known') return;
      const n = (this.#perDevice.get(deviceId!) ?? 1) - 1;
      if (n > 0) this.#perDevice.set(deviceId!, n);
      else this.#perDevice.delete(deviceId!);
    };
  }

  load() {
    return { ...this.#inFlight };
  }
}
