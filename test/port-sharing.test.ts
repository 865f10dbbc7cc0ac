import { afterAll, describe, expect, it } from 'vitest';
import { startTestNode } from './helpers/node.ts';
import { spawnNode } from './helpers/spawn-node.ts';
import { nodeSupportsReusePort } from '../server/http/listen-error.ts';
import { freePort } from './helpers/ports.ts';

const listening = (l: { msg?: string }) => typeof l.msg === 'string' && l.msg.startsWith('listening');

// A fixed port: Linux does not let a second SO_REUSEPORT socket join an ephemeral (port 0) one.
const startHolder = async () =>
  startTestNode({ SOCKET_SERVER: 'uws', PORT_SHARING: 'on', PORT: String(await freePort()) });

describe('a second node on a taken port', { timeout: 240_000 }, () => {
  // The holder listens the way uWS always did before (SO_REUSEPORT), so a node that also asked
  // for it would silently share the port: the dangerous case.
  let holder: Awaited<ReturnType<typeof startTestNode>>;
  const spawned: ReturnType<typeof spawnNode>[] = [];
  afterAll(async () => {
    spawned.forEach((s) => s.kill());
    await holder?.node.stop();
  });

  it.each(['uws', 'ws'] as const)(
    'over %s: refuses to start, exit 1, one clear log line',
    async (socketServer) => {
      holder ??= await startHolder();
      const second = spawnNode({ PORT: String(holder.node.port), SOCKET_SERVER: socketServer });
      spawned.push(second);
      expect(await second.until(listening)).toBe(1);
      const line = second.lines.find((l) => l.msg === 'port already in use: not starting');
      expect(line).toMatchObject({ code: 'EADDRINUSE', port: holder.node.port, host: '127.0.0.1' });
      expect(second.lines.some(listening)).toBe(false);
      // The holder still answers: nothing was taken from it.
      expect((await fetch(`${holder.baseUrl}/healthz`)).status).toBe(200);
    },
  );

  it('over uws with PORT_SHARING=on: starts on the shared port, as asked', async () => {
    holder ??= await startHolder();
    const second = spawnNode({ PORT: String(holder.node.port), SOCKET_SERVER: 'uws', PORT_SHARING: 'on' });
    spawned.push(second);
    expect(await second.until(listening)).toBe('running');
    expect(second.lines.find(listening)).toMatchObject({ port: holder.node.port, socketServer: 'uws' });
  });

  it('over ws with PORT_SHARING=on: shares where Node has SO_REUSEPORT, otherwise says why it cannot', async () => {
    holder ??= await startHolder();
    const second = spawnNode({ PORT: String(holder.node.port), SOCKET_SERVER: 'ws', PORT_SHARING: 'on' });
    spawned.push(second);
    if (nodeSupportsReusePort()) {
      expect(await second.until(listening)).toBe('running');
    } else {
      expect(await second.until(listening)).toBe(1);
      expect(JSON.stringify(second.lines)).toContain('PORT_SHARING=on needs uWebSockets.js or Node >= 22.12');
    }
  });
});

// (The ws server never asked for SO_REUSEPORT; uWS did by default.)
it(
  'over uws: the default node holds its port alone (even a sharing node cannot join)',
  { timeout: 240_000 },
  async () => {
    const t = await startTestNode({ SOCKET_SERVER: 'uws', PORT: String(await freePort()) });
    try {
      const intruder = spawnNode({ PORT: String(t.node.port), SOCKET_SERVER: 'uws', PORT_SHARING: 'on' });
      try {
        expect(await intruder.until(listening)).toBe(1);
        expect(intruder.lines.find((l) => l.msg === 'port already in use: not starting')).toMatchObject({
          code: 'EADDRINUSE',
        });
      } finally {
        intruder.kill();
      }
    } finally {
      await t.node.stop();
    }
  },
);
