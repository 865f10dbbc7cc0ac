import { LocalBus } from './local-bus.ts';
import { RedisBus } from './redis-bus.ts';
import type { Bus } from './types.ts';

export async function createBus(
  redisUrl: string | undefined,
  prefix?: string,
  onError?: (err: Error) => void,
): Promise<Bus> {
  return redisUrl ? RedisBus.create(redisUrl, prefix, onError) : new LocalBus();
}
