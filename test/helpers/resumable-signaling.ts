import WebSocket from 'ws';
import type { ConnectSignaling } from '../../loadtests/sfu/app-control.ts';
import { SignalingClient, type WebSocketLike } from '../../web-client/src/signaling-client.ts';

/**
 * A bot's signaling that a test can cut (the TCP connection dies, no close frame: a network drop)
 * and resume through any node, as the web client does after a lost socket.
 */
export function resumableSignaling() {
  let client: SignalingClient | undefined;
  let socket: WebSocket | undefined;
  let resumeKey: string | undefined;
  const createSocket = (url: string, protocols: string[]) =>
    (socket = new WebSocket(url, protocols)) as unknown as WebSocketLike;
  const connect: ConnectSignaling = async (url, token) => {
    const opened = (client = await SignalingClient.connect(url, token, createSocket));
    const bot = {
      request: (async (method, data, timeoutMs) => {
        const answer = await opened.request(method, data, timeoutMs);
        if (method === 'join') resumeKey = (answer as { resumeKey: string }).resumeKey;
        return answer;
      }) as SignalingClient['request'],
      close: () => opened.close(),
      onClose: undefined as ((code: number, reason: string) => void) | undefined,
    };
    opened.on('close', (code, reason) => bot.onClose?.(code, reason));
    return bot;
  };
  return {
    connect,
    get resumeKey() {
      return resumeKey;
    },
    get client() {
      return client!;
    },
    /** Resumes with any key (a forged one, in a test of refusals). */
    resume(url: string, key: string) {
      return client!.resume(url, key, createSocket);
    },
    /** Kills the socket without a close frame, waits until the client noticed, then resumes through `url`. */
    async dropAndResume(url: string) {
      const dropped = socket!;
      const closed = new Promise((r) => dropped.once('close', r));
      dropped.terminate();
      await closed;
      return client!.resume(url, resumeKey!, createSocket);
    },
  };
}
