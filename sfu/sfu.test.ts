import { isAlive } from '../test/helpers/process.ts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SfuError } from './errors.ts';
import { Room } from './room.ts';
import { WorkerPool } from './worker-pool.ts';

const once = <T>(fn: (resolve: (v: T) => void) => void) => new Promise<T>(fn);

describe('WorkerPool and Room', () => {
  let pool: WorkerPool;
  beforeAll(async () => {
    pool = await WorkerPool.create({ numWorkers: 2, listenIp: '127.0.0.1', basePort: 0, logLevel: 'error' });
  });
  afterAll(() => pool.close());


  it('runs one worker per requested core, each with one WebRtcServer', () => {
    expect(pool.health()).toEqual({ alive: 2, total: 2 });
    expect(new Set(pool.pids()).size).toBe(2);
    expect(pool.workers.every((w) => w.webRtcServers.length === 1 && !w.webRtcServers[0]!.closed)).toBe(true);
  });

  it('places rooms on the least-loaded worker', async () => {
    const a = await Room.create('room-least-a', await pool.leastLoaded());
    const b = await Room.create('room-least-b', await pool.leastLoaded());
    expect(a.workerIndex).not.toBe(b.workerIndex);
    a.close('ended');
    b.close('ended');
  });

  it('transports of one worker share its single port', async () => {
    const room = await Room.create('room-ports', pool.workers[0]!);
    const peer = room.addPeer('p');
    const t1 = await peer.createTransport('send');
    const t2 = await peer.createTransport('recv');
    const udpPort = (t: typeof t1) => t.iceCandidates.find((c) => c.protocol === 'udp')!.port;
    expect(udpPort(t1)).toBe(udpPort(t2));
    room.close('ended');
  });

  it('close() propagates down the tree and is idempotent', async () => {
    const room = await Room.create('room-close', await pool.leastLoaded());
    const peer = room.addPeer('p1');
    await peer.createTransport('send');
    const transport = [...peer.transports.values()][0]!;
    const reasons: string[] = [];
    room.on('close', (r) => reasons.push(r));
    room.close('ended');
    room.close('shutdown');
    expect(reasons).toEqual(['ended']);
    expect(room.closed && peer.closed && room.router.closed && transport.closed).toBe(true);
    expect(() => room.addPeer('p2')).toThrow(SfuError);
    await expect(peer.createTransport('send')).rejects.toMatchObject({ code: 'peer_closed' });
  });

  it('refuses duplicate peers and unknown or wrong-direction transports', async () => {
    const room = await Room.create('room-dups', await pool.leastLoaded());
    const peer = room.addPeer('p1');
    expect(() => room.addPeer('p1')).toThrow(expect.objectContaining({ code: 'peer_exists' }));
    const recv = await peer.createTransport('recv');
    await expect(peer.produce(recv.id, 'audio', {} as never, 'mic')).rejects.toMatchObject({ code: 'transport_not_found' });
    await expect(peer.resumeConsumer('nope')).rejects.toMatchObject({ code: 'consumer_not_found' });
    expect(() => peer.closeProducer('nope')).toThrow(expect.objectContaining({ code: 'producer_not_found' }));
    room.close('ended');
  });
});

it('a worker killed with SIGKILL closes its rooms (worker_died) and is replaced', async () => {
  const pool = await WorkerPool.create({ numWorkers: 1, listenIp: '127.0.0.1', basePort: 0, logLevel: 'none' });
  try {
    const room = await Room.create('room-dies', await pool.leastLoaded());
    const closed = once<string>((resolve) => room.on('close', resolve));
    const replaced = once<void>((resolve) => pool.once('workerReplaced', () => resolve()));
    const [pid] = pool.pids();
    process.kill(pid!, 'SIGKILL');
    expect(await closed).toBe('worker_died');
    await replaced;
    expect(pool.health()).toEqual({ alive: 1, total: 1 });
    expect(pool.pids()[0]).not.toBe(pid);
    const again = await Room.create('room-after', await pool.leastLoaded());
    expect(again.closed).toBe(false);
  } finally {
    const pids = pool.pids();
    await pool.close();
    expect(pids.filter(isAlive)).toEqual([]);
  }
});
