import { spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Room } from './room.ts';
import { defaultUdpBufferBytes, udpSocketStats } from './udp-socket-stats.ts';
import { WorkerPool } from './worker-pool.ts';

const udpPort = (t: { iceCandidates: { protocol: string; port: number }[] }) =>
  t.iceCandidates.find((c) => c.protocol === 'udp')!.port;

/** Whether a port can be bound right now, for UDP and TCP (a WebRtcServer listens on both). */
async function bindable(port: number): Promise<boolean> {
  const udp = await new Promise<boolean>((resolve) => {
    const probe = createSocket('udp4');
    probe.once('error', () => resolve(false));
    probe.bind(port, '127.0.0.1', () => probe.close(() => resolve(true)));
  });
  if (!udp) return false;
  return new Promise<boolean>((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/**
 * A run of `count` consecutive ports free for UDP and TCP right now, below the kernel's ephemeral
 * range (32768 and up here): there, any outgoing connection of another process (a database client,
 * a browser) may take one as its local port between this check and the workers' bind.
 */
async function freeMediaPortRange(count: number): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = 20_000 + Math.floor(Math.random() * (12_000 - count));
    const ports = Array.from({ length: count }, (_, i) => base + i);
    if ((await Promise.all(ports.map(bindable))).every(Boolean)) return base;
  }
  throw new Error('no free port range');
}

describe('several listen sockets per worker', () => {
  let pool: WorkerPool;
  beforeAll(async () => {
    pool = await WorkerPool.create({
      numWorkers: 1,
      listenIp: '127.0.0.1',
      basePort: 0,
      socketsPerWorker: 3,
      logLevel: 'error',
    });
  });
  afterAll(() => pool.close());

  it('gives each worker that many WebRtcServers on distinct UDP ports', () => {
    const [w] = pool.workers;
    expect(w!.webRtcServers).toHaveLength(3);
    expect(new Set(w!.udpPorts).size).toBe(3);
    expect(w!.udpPorts.every((p) => p > 0)).toBe(true);
  });

  it('spreads peers evenly over the sockets, keeps a peer on one socket, and reuses a freed one', async () => {
    const room = await Room.create('room-spread', pool.workers[0]!);
    const portsOf = async (peerId: string) => {
      const peer = room.addPeer(peerId);
      const send = await peer.createTransport('send');
      const recv = await peer.createTransport('recv');
      expect(udpPort(send)).toBe(udpPort(recv));
      return { peer, port: udpPort(send) };
    };
    const peers = [];
    for (let i = 0; i < 6; i++) peers.push(await portsOf(`p${i}`));
    const perPort = new Map<number, number>();
    for (const { port } of peers) perPort.set(port, (perPort.get(port) ?? 0) + 1);
    expect([...perPort.keys()].sort()).toEqual([...pool.workers[0]!.udpPorts].sort());
    expect([...perPort.values()]).toEqual([2, 2, 2]);
    // The freed socket is the least used one, so the next peer lands there.
    peers[4]!.peer.close();
    const next = await portsOf('p6');
    expect(next.port).toBe(peers[4]!.port);
    room.close('ended');
  });

  it('reads kernel counters for the media ports', () => {
    const stats = udpSocketStats();
    for (const port of pool.workers[0]!.udpPorts)
      expect(stats.get(port)).toEqual({ rxQueueBytes: expect.any(Number), drops: 0 });
    expect(pool.udpReceiveDrops()).toEqual(
      pool.workers[0]!.udpPorts.map((port) => ({ worker: 0, port, drops: 0 })),
    );
  });
});

describe('fixed media ports with several sockets per worker', () => {
  it('puts socket j of worker i on basePort + j * workers + i, so one socket per worker keeps basePort + i', async () => {
    const base = await freeMediaPortRange(6);
    const pool = await WorkerPool.create({
      numWorkers: 2,
      listenIp: '127.0.0.1',
      basePort: base,
      socketsPerWorker: 3,
      logLevel: 'error',
    });
    try {
      expect(pool.workers.map((w) => w.udpPorts)).toEqual([
        [base, base + 2, base + 4],
        [base + 1, base + 3, base + 5],
      ]);
    } finally {
      await pool.close();
    }
  });
});

describe('kernel UDP counters', () => {
  it('count the datagrams a socket that is not read drops once its receive buffer is full', async () => {
    // A process that binds a socket and then blocks its only thread (no CPU spent, nothing read).
    const script =
      "const s=require('dgram').createSocket('udp4');s.bind(0,'127.0.0.1',()=>{console.log(s.address().port);setTimeout(()=>Atomics.wait(new Int32Array(new SharedArrayBuffer(4)),0,0),20)})";
    const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      const port = await new Promise<number>((resolve) =>
        child.stdout.once('data', (d: Buffer) => resolve(Number(String(d).trim()))),
      );
      await new Promise((r) => setTimeout(r, 200));
      const sender = createSocket('udp4');
      const payload = Buffer.alloc(1000);
      // Each 1000-byte datagram costs the buffer about 2 KiB of kernel memory: send far more than fits.
      const count = Math.max(2000, Math.ceil((defaultUdpBufferBytes().receive ?? 0) / 500));
      for (let i = 0; i < count; i++)
        await new Promise<void>((r) => sender.send(payload, port, '127.0.0.1', () => r()));
      sender.close();
      const stats = udpSocketStats().get(port)!;
      expect(stats.rxQueueBytes).toBeGreaterThan(0);
      expect(stats.drops).toBeGreaterThan(count / 2);
    } finally {
      child.kill('SIGKILL');
    }
  });
});
