import type { Logger } from 'pino';
import type { Bus } from '../bus/types.ts';
import type { UserSocketSlots } from '../../signaling/user-chat-port.ts';

/**
 * The per-user socket limit across the cluster: each open user socket holds a slot in its
 * account's set in the shared store (Redis, or in-process on a lone node), renewed on every beat.
 * A node that dies stops renewing, and its slots run out within one lease: the account may open
 * those sockets again elsewhere.
 */
export class ClusterUserSocketSlots implements UserSocketSlots {
  /** socket id -> account, for the slots this node holds. */
  readonly #held = new Map<string, string>();
  #timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly transport: Bus,
    private readonly opts: { maxPerUser: number; leaseMs: number; renewMs: number; logger: Logger },
  ) {}

  start() {
    this.#timer = setInterval(() => void this.#renew(), this.opts.renewMs);
    this.#timer.unref();
  }

  stop() {
    clearInterval(this.#timer);
    const held = [...this.#held];
    this.#held.clear();
    return Promise.allSettled(held.map(([slot, userId]) => this.transport.releaseSlot(setOf(userId), slot)));
  }

  async take(userId: string, socketId: string): Promise<boolean> {
    const taken = await this.transport.takeSlot(
      setOf(userId),
      socketId,
      this.opts.maxPerUser,
      this.opts.leaseMs,
    );
    if (taken) this.#held.set(socketId, userId);
    return taken;
  }

  release(userId: string, socketId: string): void {
    if (!this.#held.delete(socketId)) return;
    this.transport
      .releaseSlot(setOf(userId), socketId)
      .catch((err: Error) => this.opts.logger.warn({ err: err.message }, 'user socket slot not released'));
  }

  async #renew() {
    const slots = [...this.#held].map(([slot, userId]) => ({ set: setOf(userId), slot }));
    await this.transport
      .renewSlots(slots, this.opts.leaseMs)
      .catch((err: Error) => this.opts.logger.warn({ err: err.message }, 'user socket slots not renewed'));
  }
}

const setOf = (userId: string) => `user-sockets:${userId}`;
