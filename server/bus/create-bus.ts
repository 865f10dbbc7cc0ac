import { LocalBus } from './local-bus.ts';
import { RedisBus } from './redis-bus.ts';
import type { Bus } from './types.ts';

export async function createBus(redisUrl: string | undefined, prefix?: string): Promise<Bus> {
  return redisUrl ? RedisBus.create(redisUrl, prefix) : new LocalBus();
}
