import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Chrome111 } from 'mediasoup-client/handlers/Chrome111';
import { createBotDevice, removeBotPolyfill } from '../loadtests/sfu/werift-env.ts';
import { startTestNode } from '../test/helpers/node.ts';
import { mintFor, newRoomId, patientPerms } from '../test/helpers/tokens.ts';
import { RoomClient } from './src/room-client.ts';
import type { RoomClientOptions } from './src/room-client-types.ts';
import { TypedEvents } from './src/typed-events.ts';
import type { WebSocketLike } from './src/signaling-client.ts';

// The DOM-free core on Node: mediasoup-client on werift, Node's `ws` for the socket, a real node.
let t: Awaited<ReturnType<typeof startTestNode>>;
beforeAll(async () => {
  // A short grace period stands in for an outage longer than the server keeps sessions.
  t = await startTestNode({}, { resumeGraceMs: 3000 });
  await createBotDevice(); // installs the RTCPeerConnection polyfill mediasoup-client's handler uses
});
afterAll(async () => {
  removeBotPolyfill();
  await t?.node.stop();
});

/** A socket factory whose network can be cut: while offline, new sockets fail to connect. */
function flakyNetwork() {
  const net = { offline: false, opened: 0 };
  const createSocket = (url: string, protocols: string[]) => {
    net.opened++;
    return new WebSocket(net.offline ? 'ws://127.0.0.1:1/ws' : url, protocols) as unknown as WebSocketLike;
  };
  return { net, createSocket };
}

type Recorded = { events: string[]; client: RoomClient };

/** A bot participant recording what its client tells it (connection states, closes, errors). */
async function bot(room: string, sub: string, over: Partial<RoomClientOptions> = {}, claims = {}) {
  const client = new RoomClient({
    signalingUrl: t.wsUrl,
    token: await mintFor(t.node, room, sub, claims),
    createSocket: (url, protocols) => new WebSocket(url, protocols) as unknown as WebSocketLike,
    handlerFactory: Chrome111.createFactory(),
    simulcast: false,
    statsIntervalMs: 0,
    // These bots send no RTP at all: to the path watch every transport would look dead.
    fastPathRecovery: false,
    ...over,
  });
  const r: Recorded = { events: [], client };
  client.on('connection', (state) => r.events.push(`connection:${state}`));
  client.on('closed', (reason) => r.events.push(`closed:${reason}`));
  client.on('error', (err) => r.events.push(`error:${err.message}`));
  return r;
}

async function until(what: string, predicate: () => boolean, timeoutMs = 10_000) {
  const end = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > end) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const serverPeers = (room: string) => [...(t.node.hub.rooms.get(room)?.room.peers.keys() ?? [])].sort();

describe('typed events', () => {
  it('fan out to every listener in order; once fires once; off removes; a throwing listener is reported', () => {
    class Source extends TypedEvents<{ tick: (n: number) => void; error: (err: Error) => void }> {
      protected override listenerFailed(err: Error, event: 'tick' | 'error') {
        if (event !== 'error') this.emit('error', err);
      }
    }
    const source = new Source();
    const seen: string[] = [];
    const first = (n: number) => seen.push(`first:${n}`);
    source.on('tick', first);
    source.on('tick', () => {
      throw new Error('listener bug');
    });
    source.once('tick', (n) => seen.push(`once:${n}`));
    source.on('tick', (n) => seen.push(`last:${n}`));
    source.on('error', (err) => seen.push(`error:${err.message}`));
    source.emit('tick', 1);
    source.off('tick', first);
    source.emit('tick', 2);
    expect(seen).toEqual([
      'first:1',
      'error:listener bug',
      'once:1',
      'last:1',
      'error:listener bug',
      'last:2',
    ]);
    expect(source.listenerCount('tick')).toBe(2);
  });
});

describe('the room client core on Node', () => {
  it('room events reach several listeners: the constructor option, on() and once()', async () => {
    const room = newRoomId();
    const host = await bot(room, 'host');
    const fromOption: string[] = [];
    const guest = await bot(room, 'guest', {
      events: { peerJoined: (p) => fromOption.push(p.peerId), admitted: () => fromOption.push('admitted') },
    });
    const fromOn: string[] = [];
    const fromOnce: string[] = [];
    guest.client.on('peerJoined', (p) => fromOn.push(p.peerId));
    guest.client.once('peerJoined', (p) => fromOnce.push(p.peerId));
    const participantLists: number[][] = [[], []];
    for (const list of participantLists) guest.client.on('participants', (ps) => list.push(ps.length));
    await host.client.join();
    await guest.client.join();
    const late = await bot(room, 'late');
    await late.client.join();
    await until('guest sees late', () => fromOn.includes('late'));
    expect(fromOption).toEqual(['host', 'admitted', 'late']);
    expect(fromOn).toEqual(['host', 'late']);
    expect(fromOnce).toEqual(['host']);
    // Both participant-list listeners saw the same lists, the last one with all three.
    await until('participants of three', () => participantLists[0]!.at(-1) === 3);
    expect(participantLists[1]).toEqual(participantLists[0]);
    for (const b of [host, guest, late]) b.client.leave();
  });

  it('a dropped socket over Node ws resumes the same session and replays what was missed meanwhile', async () => {
    const room = newRoomId();
    const host = await bot(room, 'host');
    await host.client.join();
    const { net, createSocket } = flakyNetwork();
    const guest = await bot(room, 'guest', { createSocket });
    const joinedSeen: string[][] = [[], []];
    for (const list of joinedSeen) guest.client.on('peerJoined', (p) => list.push(p.peerId));
    const leftSeen: string[] = [];
    guest.client.on('peerLeft', (peerId) => leftSeen.push(peerId));
    await guest.client.join();
    const peerId = guest.client.peerId;

    net.offline = true;
    guest.client.signaling.drop();
    await until('the guest knows', () => guest.events.includes('connection:reconnecting'));
    // While the guest is away: one joins, the host leaves. The guest hears of neither now.
    const late = await bot(room, 'late');
    await late.client.join();
    host.client.leave();
    await until('host gone on the server', () => !serverPeers(room).includes('host'));
    expect(joinedSeen[0]).toEqual(['host']);
    net.offline = false;

    await until('resumed', () => guest.events.includes('connection:resumed'));
    await until('replayed', () => leftSeen.includes('host') && joinedSeen[0]!.includes('late'));
    expect(joinedSeen).toEqual([
      ['host', 'late'],
      ['host', 'late'],
    ]);
    expect(leftSeen).toEqual(['host']);
    expect([...guest.client.peers.keys()]).toEqual(['late']);
    expect(guest.client.peerId).toBe(peerId);
    expect(guest.events).toEqual(['connection:reconnecting', 'connection:resumed']);
    // Same session on the server, and requests work on the new socket.
    expect(serverPeers(room)).toEqual(['guest', 'late']);
    await guest.client.signaling.request('reportStats', { rttMs: 10, packetLossPct: 0 });
    for (const b of [guest, late]) b.client.leave();
  });

  it('an outage longer than the grace period: the client joins again with its token, once', async () => {
    const room = newRoomId();
    const host = await bot(room, 'host');
    await host.client.join();
    const { net, createSocket } = flakyNetwork();
    const guest = await bot(room, 'guest', { createSocket });
    await guest.client.join();
    const admittedTimes = { n: 0 };
    guest.client.on('admitted', () => admittedTimes.n++);

    net.offline = true;
    guest.client.signaling.drop();
    await until('the server let the session go', () => !serverPeers(room).includes('guest'), 15_000);
    net.offline = false;
    await until('rejoined', () => guest.events.includes('connection:rejoined'), 15_000);
    expect(guest.events).toEqual(['connection:reconnecting', 'connection:rejoined']);
    expect(admittedTimes.n).toBe(1);
    expect(serverPeers(room)).toEqual(['guest', 'host']);
    expect([...guest.client.peers.keys()]).toEqual(['host']);
    for (const b of [guest, host]) b.client.leave();
  }, 30_000);

  it('final closes end the call without resuming or rejoining: removed by a host, ended for everyone', async () => {
    const room = newRoomId();
    const host = await bot(
      room,
      'host',
      {},
      { role: 'doctor', perms: ['publish', 'subscribe', 'admit', 'moderate'] },
    );
    await host.client.join();
    const { net, createSocket } = flakyNetwork();
    const removed = await bot(room, 'removed', { createSocket }, { perms: patientPerms });
    const other = await bot(room, 'other', {}, { perms: patientPerms });
    const joining = [removed.client.join(), other.client.join()];
    await until('both knock', () => t.node.hub.rooms.get(room)?.waiting.size === 2);
    await host.client.admitAll();
    await Promise.all(joining);
    const socketsBefore = net.opened;

    await host.client.signaling.request('removeParticipant', { peerId: 'removed' });
    await until('removed closed', () => removed.client.status === 'closed');
    await host.client.signaling.request('endForEveryone', {});
    await until('other closed', () => other.client.status === 'closed');
    await new Promise((r) => setTimeout(r, 1000)); // a resume would have been tried by now
    expect(removed.events).toEqual(['closed:removed_by_host']);
    expect(other.events).toEqual(['closed:ended_by_host']);
    expect(net.opened).toBe(socketsBefore);
    expect(serverPeers(room)).not.toContain('removed');
    host.client.leave();
  });

  it('a join refused at the socket (closed by the server before join) is typed, and a bad token never joins', async () => {
    const client = new RoomClient({
      signalingUrl: t.wsUrl,
      token: 'not-a-token',
      createSocket: (url, protocols) => new WebSocket(url, protocols) as unknown as WebSocketLike,
      handlerFactory: Chrome111.createFactory(),
      statsIntervalMs: 0,
    });
    await expect(client.join()).rejects.toMatchObject({ name: 'ConnectionLost' });
    expect(client.status).toBe('waiting');
  });

  it('leave, then join again with the same link: a new client gets in, media flows between the two', async () => {
    const room = newRoomId();
    const host = await bot(room, 'host');
    await host.client.join();
    const first = await bot(room, 'guest');
    await first.client.join();
    first.client.leave();
    expect(first.events).toEqual(['closed:left']);
    await until('left on the server', () => !serverPeers(room).includes('guest'));
    const second = await bot(room, 'guest');
    const tracks: string[] = [];
    second.client.on('remoteTrack', (remote) => tracks.push(`${remote.peerId}:${remote.kind}`));
    await second.client.join();
    expect(serverPeers(room)).toEqual(['guest', 'host']);
    const { MediaStreamTrack } = await import('werift');
    await host.client.publish(new MediaStreamTrack({ kind: 'audio' }) as never, 'mic');
    await until('guest consumes host', () => tracks.includes('host:audio'));
    expect(second.events).toEqual([]);
    // The closed client stays closed: leaving twice changes nothing, its requests fail.
    first.client.leave();
    expect(first.events).toEqual(['closed:left']);
    await expect(first.client.admit('host')).rejects.toThrow('left');
    for (const b of [host, second]) b.client.leave();
  });
});
