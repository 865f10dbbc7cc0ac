import type { Participant } from './participant.ts';
import type { HandlersFor } from './handler-table.ts';
import { moderationHandlers } from './moderation-handlers.ts';
import type { Method, ModerationMethod } from './protocol/index.ts';
import { SignalingError } from './signaling-error.ts';
import { GrantRevokedError } from './join-grants.ts';

/** Media requests need an admitted participant: waiting ones have no SFU peer at all. */
function admitted(p: Participant) {
  if (p.status === 'waiting') throw new SignalingError('not_admitted', 'wait until the host admits you');
  if (!p.peer || !p.hubRoom || p.peer.closed) throw new SignalingError('not_joined', 'join the room first');
  return { peer: p.peer, hubRoom: p.hubRoom };
}

function host(p: Participant) {
  if (!p.hubRoom || p.status !== 'admitted') throw new SignalingError('not_joined', 'join the room first');
  if (!p.canAdmit) throw new SignalingError('forbidden', 'only a host can admit or deny');
  return p.hubRoom;
}

const coreHandlers: HandlersFor<Exclude<Method, ModerationMethod>> = {
  async getRouterRtpCapabilities(p) {
    const hubRoom = p.hubRoom ?? (await p.deps.hub.getOrCreate(p.claims.room));
    return { rtpCapabilities: hubRoom.room.rtpCapabilities };
  },

  async join(p, { rtpCapabilities }) {
    if (p.status !== 'new') throw new SignalingError('already_joined', 'already joined');
    const { hub, lifecycle, grants } = p.deps;
    // Before knocking or entering: the token may outlive what it was minted for.
    const revoked = await grants?.check(p.claims);
    if (revoked) throw new GrantRevokedError(revoked);
    const hubRoom = await hub.getOrCreate(p.claims.room);
    if (hubRoom.moderation.isRemoved(p.peerId)) throw new SignalingError('removed_by_host', 'a host removed you from this consultation');
    // Revoked (or left) while the room was being prepared: do not enter it any more.
    if (p.ended) throw new SignalingError('room_closed', 'the session ended');
    const previous = hubRoom.current(p.peerId);
    if (previous && previous !== p) (previous as Participant).replaced();
    p.rtpCapabilities = rtpCapabilities;
    p.hubRoom = hubRoom;
    const status = hubRoom.enter(p);
    p.status = status;
    if (status === 'admitted') lifecycle.participantJoined(hubRoom.id, p.peerId, p.role);
    hub.reportMetrics();
    const iceServers = p.deps.iceServersFor?.(p.peerId) ?? [];
    return { peerId: p.peerId, status, resumeKey: p.resumeKey, iceServers, ...hubRoom.state(p.peerId) };
  },

  async createTransport(p, { direction }) {
    const { peer } = admitted(p);
    if (direction === 'send' && !p.may('publish')) throw new SignalingError('forbidden', 'no publish permission');
    if (direction === 'recv' && !p.may('subscribe')) throw new SignalingError('forbidden', 'no subscribe permission');
    return peer.createTransport(direction);
  },

  async connectTransport(p, { transportId, dtlsParameters }) {
    await admitted(p).peer.connectTransport(transportId, dtlsParameters);
    return {};
  },

  async restartIce(p, { transportId }) {
    return { iceParameters: await admitted(p).peer.restartIce(transportId) };
  },

  async resetTransports(p) {
    const { peer, hubRoom } = admitted(p);
    peer.closeTransports();
    return { producers: hubRoom.state(p.peerId).producers };
  },

  async produce(p, { transportId, kind, rtpParameters, source }) {
    const { peer, hubRoom } = admitted(p);
    if (!p.may('publish')) throw new SignalingError('forbidden', 'no publish permission');
    hubRoom.moderation.assertMaySend(p.peerId, source);
    const { producerId } = await peer.produce(transportId, kind, rtpParameters, source);
    return { producerId };
  },

  async closeProducer(p, { producerId }) {
    admitted(p).peer.closeProducer(producerId);
    return {};
  },

  async pauseProducer(p, { producerId }) {
    await admitted(p).peer.setProducerPaused(producerId, true);
    return {};
  },

  async resumeProducer(p, { producerId }) {
    const { peer, hubRoom } = admitted(p);
    hubRoom.moderation.assertMaySend(p.peerId, peer.sourceOf(producerId));
    await peer.setProducerPaused(producerId, false);
    return {};
  },

  async consume(p, { producerId }) {
    const { peer } = admitted(p);
    if (!p.may('subscribe')) throw new SignalingError('forbidden', 'no subscribe permission');
    return peer.consume(producerId);
  },

  async resumeConsumer(p, { consumerId }) {
    await admitted(p).peer.resumeConsumer(consumerId);
    return {};
  },

  async setConsumerPreferredLayers(p, { consumerId, spatialLayer, temporalLayer }) {
    await admitted(p).peer.setConsumerPreferredLayers(consumerId, spatialLayer, temporalLayer);
    return {};
  },

  async admit(p, { peerId }) {
    host(p).admit(peerId);
    p.deps.lifecycle.participantJoined(p.hubRoom!.id, peerId, p.hubRoom!.members.get(peerId)?.role ?? 'unknown');
    p.deps.hub.reportMetrics();
    return {};
  },

  async admitAll(p) {
    const hubRoom = host(p);
    const before = new Set(hubRoom.members.keys());
    const admittedCount = hubRoom.admitAll();
    for (const [peerId, m] of hubRoom.members) if (!before.has(peerId)) p.deps.lifecycle.participantJoined(hubRoom.id, peerId, m.role);
    p.deps.hub.reportMetrics();
    return { admitted: admittedCount };
  },

  async deny(p, { peerId }) {
    host(p).deny(peerId);
    return {};
  },

  async reportStats(p, stats) {
    admitted(p);
    p.clientStats = stats;
    return {};
  },

  async leave(p) {
    if (p.status === 'new') throw new SignalingError('not_joined', 'join the room first');
    p.end();
    return {};
  },
};

export const handlers: HandlersFor<Method> = { ...coreHandlers, ...moderationHandlers };
