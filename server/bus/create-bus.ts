import { LocalBus } from './local-bus.ts';
import { RedisBus, type RedisBusOptions } from './redis-bus.ts';
import type { Bus } from './types.ts';

export async function createBus(
  redisUrl: string | undefined,
  prefix?: string,
  onError?: (err: Error) => void,
  signing: Pick<RedisBusOptions, 'key' | 'onRejected'> = {},
): Promise<Bus> {
  return redisUrl ? RedisBus.create(redisUrl, { prefix, onError, ...signing }) : new LocalBus();
}
