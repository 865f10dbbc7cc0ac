import { installPolyfill, createEmptyRegister } from 'werift/polyfill';
import { Device } from 'mediasoup-client';

let uninstall: (() => void) | undefined;

/**
 * mediasoup-client's stock Chrome111 handler on werift's RTCPeerConnection polyfill (see
 * shared/notes/offline-dependencies.md): the bots run the same client library as browsers.
 * Loopback only: no ICE servers, and 127.0.0.1 added as a host address.
 */
export async function createBotDevice(): Promise<Device> {
  uninstall ??= installPolyfill({
    mediaRegister: [createEmptyRegister()],
    peerConnectionConfig: { iceServers: [], iceAdditionalHostAddresses: ['127.0.0.1'] },
  });
  return new Device({ handlerName: 'Chrome111' });
}

/**
 * The polyfill defines browser globals (window, navigator...): libraries that sniff for a browser,
 * like PGlite, then take the wrong path. Remove them as soon as a phase's bots are gone.
 */
export function removeBotPolyfill() {
  uninstall?.();
  uninstall = undefined;
}
