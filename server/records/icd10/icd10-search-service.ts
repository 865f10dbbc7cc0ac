import type { Db } from '../../../db/client.ts';
import { SendRateLimiter } from '../../messaging/limits.ts';
import type { Policy } from '../../policy/policy.ts';
import type { Actor } from '../../policy/types.ts';
import { searchIcd10, type Icd10Match } from './search.ts';

/**
 * Searches a doctor may make per second as they type (one per keystroke after a debounce), and the
 * burst a quick typist or a pasted phrase needs. Per node, like the chat send limit.
 */
export const ICD10_SEARCH_RATE = { perSecond: 10, burst: 30 } as const;

/** The encounter form's diagnosis search: doctors only, rate-limited per doctor, done in the database. */
export class Icd10Search {
  readonly #limiter: SendRateLimiter;

  constructor(
    private readonly deps: { db: Db; policy: Policy; now?: () => number },
    rate: { perSecond: number; burst: number } = ICD10_SEARCH_RATE,
  ) {
    this.#limiter = new SendRateLimiter(
      rate.perSecond,
      rate.burst,
      deps.now,
      'too many diagnosis searches; slow down',
    );
  }

  async search(actor: Actor, query: string, limit?: number): Promise<Icd10Match[]> {
    await this.deps.policy.require(actor, 'icd10.search', { type: 'platform' });
    this.#limiter.take(actor.userId);
    return searchIcd10(this.deps.db, query, limit === undefined ? {} : { limit });
  }
}
