import WebSocket from 'ws';
import { SignalingClient, type WebSocketLike } from '../../web-client/src/signaling-client.ts';
import type { Notifications } from '../../signaling/protocol/index.ts';
import { RoomRoster } from '../../web-client/src/room-roster.ts';

export type TestClient = SignalingClient & {
  notifications: { method: keyof Notifications; data: unknown }[];
  errorFrames: unknown[];
  closed: Promise<{ code: number; reason: string }>;
  waitFor: (method: keyof Notifications, count?: number) => Promise<unknown[]>;
  /** The participant list and link quality as the client core keeps them from the change frames. */
  roster: RoomRoster;
};

/** A signaling client over `ws` that records everything it receives. */
export async function connectClient(wsUrl: string, token: string): Promise<TestClient> {
  let socket: WebSocket | undefined;
  const client = (await SignalingClient.connect(wsUrl, token, (url, protocols) => {
    socket = new WebSocket(url, protocols);
    return socket as unknown as WebSocketLike;
  })) as TestClient;
  // An abnormal close (1006) says nothing by itself; keep the socket-level cause for the failure message.
  socket!.on('error', (err) => console.error(`test client socket error: ${err.message}`));
  client.notifications = [];
  client.errorFrames = [];
  client.roster = new RoomRoster();

  const waiters: (() => void)[] = [];
  client.on('notification', (method, data) => {
    client.notifications.push({ method, data });
    if (method === 'participants') client.roster.applyParticipants(data as Notifications['participants']);
    if (method === 'networkQuality') client.roster.applyQuality(data as Notifications['networkQuality']);
    waiters.splice(0).forEach((w) => w());
  });
  client.on('errorFrame', (e) => {
    client.errorFrames.push(e);
    waiters.splice(0).forEach((w) => w());
  });
  client.closed = new Promise((resolve) => client.once('close', (code, reason) => resolve({ code, reason })));
  client.waitFor = (method, count = 1) =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out waiting for ${method}`)), 5000);
      const check = () => {
        const found = client.notifications.filter((n) => n.method === method).map((n) => n.data);
        if (found.length >= count) {
          clearTimeout(timer);
          resolve(found);
        } else waiters.push(check);
      };
      check();
    });
  return client;
}

/** Waits until the client has received `count` error frames. */
export async function nextErrorFrame(client: TestClient, count: number) {
  const start = Date.now();
  while (client.errorFrames.length < count) {
    if (Date.now() - start > 5000) throw new Error('no error frame');
    await new Promise((r) => setTimeout(r, 10));
  }
  return client.errorFrames[count - 1];
}
