import type { Bus } from '../bus/types.ts';
import { busChannels, type ChannelInput, type ChannelMessage, type ChannelName } from './channels.ts';

/** A message that failed its channel's schema (never the payload itself: it may carry anything). */
export type InvalidMessage = { channel: ChannelName; issues: string[] };

/**
 * The typed face of the bus: a payload type per channel, and every arriving message validated
 * against its channel's schema before any handler sees it, because Redis is a shared surface
 * (another process, an older node, an operator's redis-cli) and nothing there is trusted by shape.
 * The transport (server/bus: Local or Redis) only moves JSON.
 */
export class ClusterBus {
  constructor(
    readonly transport: Bus,
    private readonly onInvalid: (invalid: InvalidMessage) => void,
  ) {}

  get kind() {
    return this.transport.kind;
  }

  /** `key` addresses one member of a channel family (one node's inbox): `channel:key`. */
  publish<C extends ChannelName>(channel: C, message: ChannelInput<C>, key?: string): Promise<void> {
    return this.transport.publish(subject(channel, key), message);
  }

  /** Resolves once the subscription is active; returns the unsubscribe function. */
  subscribe<C extends ChannelName>(
    channel: C,
    handler: (message: ChannelMessage<C>) => void,
    key?: string,
  ): Promise<() => Promise<void>> {
    const schema = busChannels[channel];
    return this.transport.subscribe(subject(channel, key), (raw) => {
      const parsed = schema.safeParse(raw);
      if (parsed.success) handler(parsed.data as ChannelMessage<C>);
      else this.onInvalid({ channel, issues: parsed.error.issues.map((i) => i.path.join('.') || i.code) });
    });
  }
}

const subject = (channel: ChannelName, key: string | undefined) =>
  key === undefined ? channel : `${channel}:${key}`;
