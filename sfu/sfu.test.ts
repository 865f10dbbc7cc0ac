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
    expect(pool.health(), 'live and configured workers').toEqual({ alive: 2, total: 2 });
    expect(new Set(pool.pids()).size, 'distinct worker processes').toBe(2);
    expect(
      pool.workers.map((w) => ({ servers: w.webRtcServers.length, open: !w.webRtcServers[0]!.closed })),
      'each worker has exactly one open WebRtcServer',
    ).toEqual([
      { servers: 1, open: true },
      { servers: 1, open: true },
    ]);
  });

  it('places rooms on the least-loaded worker', async () => {
    const a = await Room.create('room-least-a', await pool.leastLoaded());
    const b = await Room.create('room-least-b', await pool.leastLoaded());
    expect(a.workerIndex, 'the second room goes to the other, emptier worker').not.toBe(b.workerIndex);
    a.close('ended');
    b.close('ended');
  });

  it('transports of one worker share its single port', async () => {
    const room = await Room.create('room-ports', pool.workers[0]!);
    const peer = room.addPeer('p');
    const t1 = await peer.createTransport('send');
    const t2 = await peer.createTransport('recv');
    const udpPort = (t: typeof t1) => t.iceCandidates.find((c) => c.protocol === 'udp')!.port;
    expect(udpPort(t1), 'send and recv transports on the same UDP port').toBe(udpPort(t2));
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
    expect(reasons, 'one close event, with the first reason').toEqual(['ended']);
    expect(
      { room: room.closed, peer: peer.closed, router: room.router.closed, transport: transport.closed },
      'everything under the room is closed',
    ).toEqual({ room: true, peer: true, router: true, transport: true });
    expect(() => room.addPeer('p2'), 'a closed room takes no peers').toThrow(SfuError);
    await expect(peer.createTransport('send'), 'a closed peer makes no transports').rejects.toMatchObject({
      code: 'peer_closed',
    });
  });

  it('refuses duplicate peers and unknown or wrong-direction transports', async () => {
    const room = await Room.create('room-dups', await pool.leastLoaded());
    const peer = room.addPeer('p1');
    expect(() => room.addPeer('p1'), 'the same peer id twice').toThrow(
      expect.objectContaining({ code: 'peer_exists' }),
    );
    const recv = await peer.createTransport('recv');
    await expect(
      peer.produce(recv.id, 'audio', {} as never, 'mic'),
      'producing on a recv transport',
    ).rejects.toMatchObject({
      code: 'transport_not_found',
    });
    await expect(peer.resumeConsumer('nope'), 'resuming an unknown consumer').rejects.toMatchObject({
      code: 'consumer_not_found',
    });
    expect(() => peer.closeProducer('nope'), 'closing an unknown producer').toThrow(
      expect.objectContaining({ code: 'producer_not_found' }),
    );
    room.close('ended');
  });
});

it('a worker killed with SIGKILL closes its rooms (worker_died) and is replaced', async () => {
  const pool = await WorkerPool.create({
    numWorkers: 1,
    listenIp: '127.0.0.1',
    basePort: 0,
    logLevel: 'none',
  });
  try {
    const room = await Room.create('room-dies', await pool.leastLoaded());
    const closed = once<string>((resolve) => room.on('close', resolve));
    const replaced = once<void>((resolve) => pool.once('workerReplaced', () => resolve()));
    const [pid] = pool.pids();
    process.kill(pid!, 'SIGKILL');
    expect(await closed, 'the room closes because its worker died').toBe('worker_died');
    await replaced;
    expect(pool.health(), 'the slot is live again').toEqual({ alive: 1, total: 1 });
    expect(pool.pids()[0], 'the replacement is a new process').not.toBe(pid);
    const again = await Room.create('room-after', await pool.leastLoaded());
    expect(again.closed, 'the replacement hosts rooms').toBe(false);
  } finally {
    const pids = pool.pids();
    await pool.close();
    expect(pids.filter(isAlive), 'no worker process outlives the pool').toEqual([]);
  }
});
