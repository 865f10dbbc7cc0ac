import type { HandlersFor } from './handler-table.ts';
import type { MediaMethod } from './protocol/index.ts';
import { SignalingError } from './signaling-error.ts';

/** Transports, producers and consumers of an admitted member's SFU peer. */
export const mediaHandlers: HandlersFor<MediaMethod> = {
  async getRouterRtpCapabilities({ member, deps }) {
    return { rtpCapabilities: await deps.hub.rtpCapabilitiesFor(member.claims.room) };
  },

  async createTransport({ member }, { direction }) {
    const { peer } = member.media();
    if (direction === 'send' && !member.may('publish'))
      throw new SignalingError('forbidden', 'no publish permission');
    if (direction === 'recv' && !member.may('subscribe'))
      throw new SignalingError('forbidden', 'no subscribe permission');
    return peer.createTransport(direction);
  },

  async connectTransport({ member }, { transportId, dtlsParameters }) {
    await member.media().peer.connectTransport(transportId, dtlsParameters);
    return {};
  },

  async restartIce({ member }, { transportId }) {
    return { iceParameters: await member.media().peer.restartIce(transportId) };
  },

  async resetTransports({ member }) {
    const { peer, hubRoom } = member.media();
    peer.closeTransports();
    return { producers: hubRoom.state(member.peerId).producers };
  },

  async produce({ member }, { transportId, kind, rtpParameters, source }) {
    const { peer, hubRoom } = member.media();
    if (!member.may('publish')) throw new SignalingError('forbidden', 'no publish permission');
    hubRoom.moderation.assertMaySend(member.peerId, source);
    const { producerId } = await peer.produce(transportId, kind, rtpParameters, source);
    return { producerId };
  },

  async closeProducer({ member }, { producerId }) {
    member.media().peer.closeProducer(producerId);
    return {};
  },

  async pauseProducer({ member }, { producerId }) {
    await member.media().peer.setProducerPaused(producerId, true);
    return {};
  },

  async resumeProducer({ member }, { producerId }) {
    const { peer, hubRoom } = member.media();
    hubRoom.moderation.assertMaySend(member.peerId, peer.sourceOf(producerId));
    await peer.setProducerPaused(producerId, false);
    return {};
  },

  async consume({ member }, { producerId }) {
    const { peer } = member.media();
    if (!member.may('subscribe')) throw new SignalingError('forbidden', 'no subscribe permission');
    return peer.consume(producerId);
  },

  async resumeConsumer({ member }, { consumerId }) {
    await member.media().peer.resumeConsumer(consumerId);
    return {};
  },

  async setConsumerPreferredLayers({ member }, { consumerId, spatialLayer, temporalLayer }) {
    await member.media().peer.setConsumerPreferredLayers(consumerId, spatialLayer, temporalLayer);
    return {};
  },

  async reportStats({ member }, stats) {
    member.reportStats(stats);
    return {};
  },
};
