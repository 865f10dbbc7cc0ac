import { randomBytes } from 'node:crypto';
import * as mediasoup from 'mediasoup';
import { loadConfig } from '../../server/config.ts';
import { createLogger } from '../../server/logger.ts';
import { CareCallNode } from '../../server/node.ts';
import { AppControl } from './app-control.ts';
import { BareRoom } from './bare-control.ts';
import { Publisher, Subscriber } from './bot.ts';
import { removeBotPolyfill } from './werift-env.ts';
import { ramp, type RampLimits, type RampResult } from './ramp.ts';

export type PhaseOptions = { publishers: number; limits: RampLimits; log: (line: string) => void };

/** Starts a full CareCall node the way production does (loadConfig, default socket server), one worker. */
export async function startAppNode() {
  const config = loadConfig({
    HOST: '127.0.0.1',
    PORT: '0',
    SFU_WORKERS: '1',
    PGLITE_DIR: 'memory://',
    DEMO: 'off',
    LOG_LEVEL: 'warn',
  });
  // One big room measures the SFU, not the 8-person consultation limit (bare mediasoup has none).
  return CareCallNode.start(config, createLogger('warn'), { roomCapacity: 10_000 });
}

/** (a) The full app: bots join through real signaling with real join tokens. */
export async function appPhase(opts: PhaseOptions): Promise<RampResult & { socketServer: string }> {
  const node = await startAppNode();
  const publishers: Publisher[] = [];
  try {
    const wsUrl = `ws://127.0.0.1:${node.port}/ws`;
    const room = randomBytes(12).toString('base64url');
    let n = 0;
    const control = async (role: 'doctor' | 'patient', perms: ('publish' | 'subscribe')[]) =>
      AppControl.connect(
        wsUrl,
        await node.issuer.mint({ sub: `bot-${++n}`, room, role, perms: [...perms, 'admit'] }),
      ); // hosts: no waiting room
    for (let i = 0; i < opts.publishers; i++)
      publishers.push(await Publisher.start(await control('doctor', ['publish', 'subscribe'])));
    const result = await ramp(
      {
        worker: node.pool.workers[0]!.worker,
        addSubscriber: async () => Subscriber.start(await control('patient', ['subscribe'])),
        consumers: () =>
          [...(node.hub.rooms.get(room)?.room.peers.values() ?? [])].flatMap((p) => [
            ...p.consumers.values(),
          ]),
      },
      opts.limits,
      (line) => opts.log(`app  ${line}`),
    );
    return { ...result, socketServer: node.server.kind };
  } finally {
    publishers.forEach((p) => p.close());
    await node.stop();
    removeBotPolyfill();
  }
}

/** (b) Bare mediasoup on the same machine: a worker, a router, transports, and the same bots. */
export async function barePhase(opts: PhaseOptions): Promise<RampResult> {
  const worker = await mediasoup.createWorker({ logLevel: 'warn' });
  const publishers: Publisher[] = [];
  try {
    const room = await BareRoom.create(worker);
    for (let i = 0; i < opts.publishers; i++) publishers.push(await Publisher.start(room.control()));
    return await ramp(
      { worker, addSubscriber: () => Subscriber.start(room.control()), consumers: () => room.consumers },
      opts.limits,
      (line) => opts.log(`bare ${line}`),
    );
  } finally {
    publishers.forEach((p) => p.close());
    worker.close();
    removeBotPolyfill();
  }
}
