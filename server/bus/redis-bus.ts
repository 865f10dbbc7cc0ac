import { Redis } from 'ioredis';
import { developmentClusterKey, MessageSigner } from './message-signing.ts';
import type { Bus, BusHandler } from './types.ts';

export type RedisBusOptions = {
  prefix?: string;
  /** Connection trouble after start; ioredis reconnects by itself meanwhile. */
  onError?: (err: Error) => void;
  /** The cluster key (CLUSTER_KEY); without it, a key derived from the URL and prefix (development). */
  key?: Buffer | undefined;
  /** A message or node state that is not signed with the cluster key (or too old): dropped. */
  onRejected?: (subject: string) => void;
};

// Release only if we still own it: compare-and-delete must be atomic.
const RELEASE_IF_OWNER = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end`;

// Extend only if we still own it: a lease that expired and was taken elsewhere is lost, not stolen back.
const RENEW_IF_OWNER = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end`;

// Get-or-set and extend in one step: two nodes asking at once must agree on the first value.
const KEEP_FIRST = `local v = redis.call('get', KEYS[1]) if not v then v = ARGV[1] redis.call('set', KEYS[1], v, 'PX', ARGV[2]) else redis.call('pexpire', KEYS[1], ARGV[2]) end return v`;

// Slots are a sorted set scored by expiry, on Redis's clock (the nodes' clocks may differ): the
// expired go, then the slot is taken if there is room, in one step (two nodes may ask at once).
const REDIS_NOW = `local t = redis.call('time') local now = t[1] * 1000 + math.floor(t[2] / 1000)`;
const TAKE_SLOT = `${REDIS_NOW}
redis.call('zremrangebyscore', KEYS[1], '-inf', now)
if not redis.call('zscore', KEYS[1], ARGV[1]) and redis.call('zcard', KEYS[1]) >= tonumber(ARGV[2]) then return 0 end
redis.call('zadd', KEYS[1], now + tonumber(ARGV[3]), ARGV[1])
redis.call('pexpire', KEYS[1], ARGV[3])
return 1`;
const RENEW_SLOT = `${REDIS_NOW}
if redis.call('zadd', KEYS[1], 'XX', 'CH', now + tonumber(ARGV[2]), ARGV[1]) == 1 then redis.call('pexpire', KEYS[1], ARGV[2]) end
return 1`;

export class RedisBus implements Bus {
  readonly kind = 'redis' as const;
  readonly #handlers = new Map<string, Set<BusHandler>>();

  private constructor(
    private readonly pub: Redis,
    private readonly sub: Redis,
    private readonly prefix: string,
    private readonly signer: MessageSigner,
    private readonly onRejected: (subject: string) => void,
  ) {
    sub.on('messageBuffer', (channel: Buffer, payload: Buffer) => {
      const subject = channel.toString();
      const handlers = this.#handlers.get(subject.slice(this.prefix.length));
      if (!handlers) return;
      const json = this.signer.open(subject, payload.toString());
      if (json === undefined) return this.onRejected(subject.slice(this.prefix.length));
      let message: unknown;
      try {
        message = JSON.parse(json);
      } catch {
        return this.onRejected(subject.slice(this.prefix.length));
      }
      for (const handler of handlers) handler(message);
    });
  }

  static async create(url: string, opts: RedisBusOptions = {}): Promise<RedisBus> {
    const { prefix = 'carecall:', onError = () => {}, onRejected = () => {} } = opts;
    const signer = new MessageSigner(opts.key ?? developmentClusterKey(url, prefix));
    const options = { lazyConnect: true, maxRetriesPerRequest: 3, enableOfflineQueue: true };
    const pub = new Redis(url, options);
    const sub = new Redis(url, options);
    let started = false;
    for (const client of [pub, sub]) client.on('error', (err: Error) => started && onError(err));
    try {
      // Without retries during start-up, a wrong REDIS_URL fails fast instead of hanging.
      await Promise.all([pub.connect(), sub.connect()]);
    } catch (err) {
      pub.disconnect();
      sub.disconnect();
      throw err;
    }
    started = true;
    return new RedisBus(pub, sub, prefix, signer, onRejected);
  }

  async publish(channel: string, message: unknown): Promise<void> {
    const subject = this.prefix + channel;
    await this.pub.publish(subject, this.signer.sign(subject, JSON.stringify(message)));
  }

  async subscribe(channel: string, handler: BusHandler): Promise<() => Promise<void>> {
    let set = this.#handlers.get(channel);
    if (!set) {
      set = new Set();
      this.#handlers.set(channel, set);
      await this.sub.subscribe(this.prefix + channel);
    }
    set.add(handler);
    return async () => {
      set.delete(handler);
      if (set.size === 0 && this.#handlers.get(channel) === set) {
        this.#handlers.delete(channel);
        await this.sub.unsubscribe(this.prefix + channel);
      }
    };
  }

  async claimRoom(roomId: string, nodeId: string, ttlMs: number): Promise<string> {
    const key = `${this.prefix}room:${roomId}`;
    const set = await this.pub.set(key, nodeId, 'PX', ttlMs, 'NX');
    if (set === 'OK') return nodeId;
    const owner = await this.pub.get(key);
    if (owner === nodeId) await this.pub.pexpire(key, ttlMs);
    // The key may have expired between SET NX and GET: try once more rather than report no owner.
    return owner ?? this.claimRoom(roomId, nodeId, ttlMs);
  }

  async releaseRoom(roomId: string, nodeId: string): Promise<void> {
    await this.pub.eval(RELEASE_IF_OWNER, 1, `${this.prefix}room:${roomId}`, nodeId);
  }

  async roomOwner(roomId: string): Promise<string | undefined> {
    return (await this.pub.get(`${this.prefix}room:${roomId}`)) ?? undefined;
  }

  async renewRooms(roomIds: readonly string[], nodeId: string, ttlMs: number): Promise<string[]> {
    if (roomIds.length === 0) return [];
    const pipeline = this.pub.pipeline();
    for (const id of roomIds) pipeline.eval(RENEW_IF_OWNER, 1, `${this.prefix}room:${id}`, nodeId, ttlMs);
    const results = (await pipeline.exec()) ?? [];
    return roomIds.filter((_, i) => {
      const [err, renewed] = results[i] ?? [new Error('no reply'), 0];
      if (err) throw err;
      return renewed !== 1;
    });
  }

  async putNode(nodeId: string, state: string, ttlMs: number): Promise<void> {
    await this.pub
      .multi()
      .set(
        `${this.prefix}node:${nodeId}`,
        this.signer.sign(`${this.prefix}node:${nodeId}`, state),
        'PX',
        ttlMs,
      )
      .sadd(`${this.prefix}nodes`, nodeId)
      .exec();
  }

  async removeNode(nodeId: string): Promise<void> {
    await this.pub.multi().del(`${this.prefix}node:${nodeId}`).srem(`${this.prefix}nodes`, nodeId).exec();
  }

  async liveNodes(): Promise<Map<string, string>> {
    const ids = await this.pub.smembers(`${this.prefix}nodes`);
    if (ids.length === 0) return new Map();
    const states = await this.pub.mget(ids.map((id) => `${this.prefix}node:${id}`));
    const live = new Map<string, string>();
    const gone: string[] = [];
    ids.forEach((id, i) => {
      const signed = states[i];
      if (signed == null) return gone.push(id);
      // An entry written without the cluster key is nobody's node: placement never sees it.
      const state = this.signer.open(`${this.prefix}node:${id}`, signed);
      if (state === undefined) this.onRejected(`node:${id}`);
      else live.set(id, state);
    });
    // A node that died without removing itself: its state expired, its name is swept here.
    if (gone.length) await this.pub.srem(`${this.prefix}nodes`, ...gone);
    return live;
  }

  async keepFirst(key: string, value: string, ttlMs: number): Promise<string> {
    return String(await this.pub.eval(KEEP_FIRST, 1, `${this.prefix}kept:${key}`, value, ttlMs));
  }

  async forget(key: string): Promise<void> {
    await this.pub.del(`${this.prefix}kept:${key}`);
  }

  async takeSlot(set: string, slot: string, max: number, ttlMs: number): Promise<boolean> {
    return (await this.pub.eval(TAKE_SLOT, 1, `${this.prefix}slots:${set}`, slot, max, ttlMs)) === 1;
  }

  async renewSlots(slots: readonly { set: string; slot: string }[], ttlMs: number): Promise<void> {
    if (slots.length === 0) return;
    const pipeline = this.pub.pipeline();
    for (const { set, slot } of slots)
      pipeline.eval(RENEW_SLOT, 1, `${this.prefix}slots:${set}`, slot, ttlMs);
    for (const [err] of (await pipeline.exec()) ?? []) if (err) throw err;
  }

  async releaseSlot(set: string, slot: string): Promise<void> {
    await this.pub.zrem(`${this.prefix}slots:${set}`, slot);
  }

  async ping(): Promise<void> {
    await this.pub.ping();
  }

  async close(): Promise<void> {
    this.#handlers.clear();
    await Promise.allSettled([this.sub.quit(), this.pub.quit()]);
  }
}
