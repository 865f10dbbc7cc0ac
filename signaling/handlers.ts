import type { types } from 'mediasoup';
import { producerInfo } from './hub-room.ts';
import type { Method, RequestData, ResponseData } from './protocol/index.ts';
import type { Session } from './session.ts';
import { SignalingError } from './signaling-error.ts';

type Handlers = { [M in Method]: (session: Session, data: RequestData<M>) => Promise<ResponseData[M]> };

function joined(session: Session) {
  if (!session.peer || !session.hubRoom || session.peer.closed) {
    throw new SignalingError('not_joined', 'join the room first');
  }
  return { peer: session.peer, hubRoom: session.hubRoom };
}

export const handlers: Handlers = {
  async getRouterRtpCapabilities(session) {
    const hubRoom = session.hubRoom ?? (await session.deps.hub.getOrCreate(session.claims.room));
    return { rtpCapabilities: hubRoom.room.rtpCapabilities };
  },

  async join(session, { rtpCapabilities }) {
    if (session.peer && !session.peer.closed) throw new SignalingError('already_joined', 'already joined');
    const { hub, lifecycle } = session.deps;
    const hubRoom = await hub.getOrCreate(session.claims.room);
    const previous = hubRoom.members.get(session.peerId);
    if (previous && previous !== session) (previous as Session).replaced();
    const peer = hubRoom.add(session);
    peer.rtpCapabilities = rtpCapabilities as types.RtpCapabilities;
    peer.on('consumerClosed', (consumerId) => session.notify('consumerClosed', { consumerId }));
    session.hubRoom = hubRoom;
    session.peer = peer;
    lifecycle.participantJoined(hubRoom.id, session.peerId, session.role);
    hub.reportMetrics();
    const others = [...hubRoom.members.values()].filter((m) => m.peerId !== session.peerId);
    return {
      peerId: session.peerId,
      peers: others.map((m) => ({ peerId: m.peerId, role: m.role, displayName: m.displayName })),
      producers: session.canSubscribe
        ? hubRoom.room.producersExcept(session.peerId).map(({ peer: p, producer }) => producerInfo(p.id, producer))
        : [],
    };
  },

  async createTransport(session, { direction }) {
    const { peer } = joined(session);
    if (direction === 'send' && !session.may('publish')) throw new SignalingError('forbidden', 'no publish permission');
    if (direction === 'recv' && !session.may('subscribe')) throw new SignalingError('forbidden', 'no subscribe permission');
    return peer.createTransport(direction);
  },

  async connectTransport(session, { transportId, dtlsParameters }) {
    await joined(session).peer.connectTransport(transportId, dtlsParameters as types.DtlsParameters);
    return {};
  },

  async produce(session, { transportId, kind, rtpParameters, source }) {
    const { peer } = joined(session);
    if (!session.may('publish')) throw new SignalingError('forbidden', 'no publish permission');
    const producer = await peer.produce(transportId, kind, rtpParameters as types.RtpParameters, source);
    return { producerId: producer.id };
  },

  async closeProducer(session, { producerId }) {
    joined(session).peer.closeProducer(producerId);
    return {};
  },

  async consume(session, { producerId }) {
    const { peer, hubRoom } = joined(session);
    if (!session.may('subscribe')) throw new SignalingError('forbidden', 'no subscribe permission');
    // Only this room's producers are visible: another room's id is simply not found.
    const producer = hubRoom.room.findProducer(producerId);
    if (!producer || producer.appData.peerId === session.peerId) {
      throw new SignalingError('producer_not_found', 'no such producer in this room');
    }
    const consumer = await peer.consume(producer);
    return { consumerId: consumer.id, producerId, kind: consumer.kind, rtpParameters: consumer.rtpParameters };
  },

  async resumeConsumer(session, { consumerId }) {
    await joined(session).peer.resumeConsumer(consumerId);
    return {};
  },

  async leave(session) {
    joined(session);
    session.leave();
    return {};
  },
};
