import { request, type IncomingHttpHeaders } from 'node:http';

export type UpgradeAnswer = { status: number; headers: IncomingHttpHeaders; body?: { code: string } };

/** A hand-made WebSocket upgrade (fetch refuses upgrade headers): the refusal's problem+json, or the 101. */
export function upgradeAnswer(wsUrl: string, protocols: string | undefined): Promise<UpgradeAnswer> {
  return new Promise((resolve, reject) => {
    const req = request(wsUrl.replace(/^ws/, 'http'), {
      headers: {
        upgrade: 'websocket',
        connection: 'Upgrade',
        'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==',
        'sec-websocket-version': '13',
        ...(protocols === undefined ? {} : { 'sec-websocket-protocol': protocols }),
      },
    });
    req.on('upgrade', (res, socket) => {
      socket.destroy();
      resolve({ status: res.statusCode ?? 0, headers: res.headers });
    });
    req.on('response', (res) => {
      let text = '';
      res.on('data', (d) => (text += d));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: JSON.parse(text) }),
      );
    });
    req.on('error', reject);
    req.end();
  });
}
