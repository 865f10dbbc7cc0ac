import type { Device, types } from 'mediasoup-client';
import type { SignalingClient } from '../signaling-client.ts';
import type { Source } from './publications.ts';

export type TransportOptions = {
  signaling: SignalingClient;
  device: Device;
  direction: 'send' | 'recv';
  iceServers: RTCIceServer[];
  iceTransportPolicy: RTCIceTransportPolicy;
  onConnectionState: (state: types.ConnectionState) => void;
};

/** A transport created on the server and mirrored in mediasoup-client, its events wired to signaling. */
export async function createTransport(o: TransportOptions): Promise<types.Transport> {
  const { signaling } = o;
  const info = await signaling.request('createTransport', { direction: o.direction });
  const options = {
    id: info.id,
    iceParameters: info.iceParameters as types.IceParameters,
    iceCandidates: info.iceCandidates as types.IceCandidate[],
    dtlsParameters: info.dtlsParameters as types.DtlsParameters,
    iceServers: o.iceServers,
    iceTransportPolicy: o.iceTransportPolicy,
  };
  const transport =
    o.direction === 'send' ? o.device.createSendTransport(options) : o.device.createRecvTransport(options);
  transport.on('connect', ({ dtlsParameters }, callback, errback) => {
    signaling
      .request('connectTransport', { transportId: transport.id, dtlsParameters: dtlsParameters as never })
      .then(() => callback(), errback);
  });
  if (o.direction === 'send') {
    transport.on('produce', ({ kind, rtpParameters, appData }, callback, errback) => {
      signaling
        .request('produce', {
          transportId: transport.id,
          kind,
          rtpParameters: rtpParameters as never,
          source: appData.source as Source,
        })
        .then(({ producerId }) => callback({ id: producerId }), errback);
    });
  }
  transport.on('connectionstatechange', o.onConnectionState);
  return transport;
}
