import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestNode } from '../test/helpers/node.ts';

type TestNode = Awaited<ReturnType<typeof startTestNode>>;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitFor(what: string, ok: () => boolean | Promise<boolean>, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await ok())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

/** Starts the publishing bot in its own process and resolves once its media flows. */
function startBot(wsUrl: string, token: string) {
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/helpers/media-bot.ts', wsUrl, token], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const ready = waitFor(
    'the bot to publish',
    () => out.includes('ready') || child.exitCode !== null,
    30_000,
  ).then(() => {
    if (!out.includes('ready')) throw new Error(`bot failed: ${out}`);
  });
  return { child, ready };
}

const STALL_MS = 2000;

describe('media transport telemetry', () => {
  let t: TestNode;
  beforeAll(async () => {
    t = await startTestNode({}, { transportWatch: { stallMs: STALL_MS, checkIntervalMs: 200 } });
  });
  afterAll(() => t.node.stop());

  const metrics = async () => (await fetch(`${t.baseUrl}/metrics`)).text();
  const stallLines = () => t.logs.lines.filter((l) => l.includes('"event":"receive_stalled"'));

  it('reports a client that vanished without a goodbye: a log line, a counter and the stalled gauge', async () => {
    const room = 'telemetryroom1';
    const token = await t.node.issuer.mint({
      sub: 'vanishing-doctor',
      room,
      role: 'doctor',
      perms: ['publish', 'subscribe', 'admit'],
    });
    const bot = startBot(t.wsUrl, token);
    try {
      await bot.ready;
      const peer = () => t.node.hub.rooms.get(room)?.room.peers.get('vanishing-doctor');
      await waitFor('the producers', () => (peer()?.producers.size ?? 0) === 2);
      // While media flows, longer than the stall period: nothing is reported.
      await sleep(STALL_MS * 2);
      expect(stallLines()).toEqual([]);
      expect(await metrics()).toContain(`carecall_sfu_transports_stalled{node="${t.node.nodeId}"} 0`);

      bot.child.kill('SIGKILL');
      await waitFor('the stall event', () => stallLines().length > 0);
      const line = JSON.parse(stallLines()[0]!) as Record<string, unknown>;
      expect(line).toMatchObject({
        level: 40,
        event: 'receive_stalled',
        roomId: room,
        peerId: 'vanishing-doctor',
        direction: 'send',
        workerIndex: 0,
      });
      expect(line.silentMs).toBeGreaterThanOrEqual(STALL_MS);
      expect(line.transportId).toBe([...peer()!.transports.keys()][0]);
      const text = await metrics();
      expect(text).toContain(
        `carecall_sfu_transport_events_total{event="receive_stalled",node="${t.node.nodeId}"} 1`,
      );
      expect(text).toContain(`carecall_sfu_transports_stalled{node="${t.node.nodeId}"} 1`);
      expect(text).toMatch(
        /carecall_sfu_udp_receive_drops\{worker="0",port="\d+",node="node-[0-9a-f]+"\} \d+/,
      );
      // Reported once per stall, not on every check.
      await sleep(1000);
      expect(stallLines()).toHaveLength(1);

      // Once the participant is gone (the resume grace ends or the room closes), so is the gauge entry.
      t.node.hub.rooms.get(room)!.closeAll('ended');
      await waitFor('the gauge to drop', async () =>
        (await metrics()).includes(`carecall_sfu_transports_stalled{node="${t.node.nodeId}"} 0`),
      );
    } finally {
      bot.child.kill('SIGKILL');
    }
  });
});
