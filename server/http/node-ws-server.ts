import { createServer, type IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { getRequestListener } from '@hono/node-server';
import { WebSocketServer, type WebSocket } from 'ws';
import type { SocketConnection, SocketServer, SocketServerOptions } from './socket-server.ts';
import { closeWith } from '../../signaling/socket.ts';
import { authorizeSafely, PROBLEM_JSON, rejectionBody, statusLine } from './upgrade-rejection.ts';
import { ListenError, nodeSupportsReusePort } from './listen-error.ts';
import { BASELINE_SECURITY_HEADERS } from '../api/security-headers.ts';

const BASELINE_LINES = Object.entries(BASELINE_SECURITY_HEADERS)
  .map(([name, value]) => `${name}: ${value}\r\n`)
  .join('');

const PING_INTERVAL_MS = 30_000;
const SELECTED_PROTOCOL = Symbol('selected subprotocol');
type UpgradeMessage = IncomingMessage & { [SELECTED_PROTOCOL]?: string | undefined };

class WsConnection implements SocketConnection {
  alive = true;
  overflowed = false;
  onDrain: (() => void) | undefined;
  #backlogged = false;
  constructor(
    private readonly ws: WebSocket,
    readonly remoteAddress: string,
    private readonly maxBackpressure: number,
  ) {}

  get closed() {
    return this.ws.readyState !== this.ws.OPEN;
  }

  send(text: string): boolean {
    if (this.closed) return false;
    if (this.ws.bufferedAmount > this.maxBackpressure) {
      // Same policy as uWS closeOnBackpressureLimit: a client this far behind is dropped.
      this.overflowed = true;
      this.ws.terminate();
      return false;
    }
    if (this.ws.bufferedAmount > 0) this.#backlogged = true;
    // The callback runs once this frame is written out: like uWS's drain, say when a backlog is gone.
    this.ws.send(text, () => {
      if (this.#backlogged && this.ws.bufferedAmount === 0) {
        this.#backlogged = false;
        this.onDrain?.();
      }
    });
    return true;
  }

  get bufferedBytes() {
    return this.closed ? 0 : this.ws.bufferedAmount;
  }

  close(code: number, reason: string) {
    if (!this.closed) this.ws.close(code, reason);
  }
}

export async function startNodeWsServer<T>(opts: SocketServerOptions<T>): Promise<SocketServer> {
  if (opts.sharePort && !nodeSupportsReusePort()) {
    throw new Error(
      `PORT_SHARING=on needs uWebSockets.js or Node >= 22.12 for the ws server (this is Node ${process.versions.node})`,
    );
  }
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: opts.maxPayloadBytes,
    perMessageDeflate: false,
    // Only the subprotocol the decision selected: the offered list carries the credential.
    handleProtocols: (_offered, req) => (req as UpgradeMessage)[SELECTED_PROTOCOL] ?? false,
  });
  const connections = new Set<WsConnection>();
  const http = createServer(
    getRequestListener((request, env) =>
      opts.fetch(request, { remoteAddress: env.incoming.socket.remoteAddress ?? '' }),
    ),
  );

  http.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => socket.destroy());
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (!opts.paths.includes(url.pathname))
      return reject(socket, { status: 404, code: 'not_found', detail: 'no such resource' });
    const headers = new Headers();
    for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string') headers.set(k, v);
    const remoteAddress = req.socket.remoteAddress ?? '';
    const decision = authorizeSafely(opts, {
      path: url.pathname,
      query: url.searchParams,
      headers,
      remoteAddress,
    });
    if (!decision.ok) return reject(socket, decision);
    (req as UpgradeMessage)[SELECTED_PROTOCOL] = decision.protocol;
    wss.handleUpgrade(req, socket, head, (ws) => {
      const connection = new WsConnection(ws, remoteAddress, opts.maxBackpressureBytes);
      connections.add(connection);
      const handler = opts.open(connection, decision.context);
      connection.onDrain = () => handler.onDrain?.();
      ws.on('message', (data: Buffer, isBinary) => handler.onMessage(data, isBinary));
      ws.on('pong', () => (connection.alive = true));
      ws.on('error', () => ws.terminate());
      ws.on('close', (code) => {
        connections.delete(connection);
        handler.onClose(code);
      });
    });
  });

  const pinger = setInterval(() => {
    for (const c of connections) {
      if (!c.alive) closeWith(c, 'ping_timeout');
      c.alive = false;
    }
    for (const ws of wss.clients) ws.ping();
  }, PING_INTERVAL_MS);
  pinger.unref();

  await new Promise<void>((resolve, reject) => {
    http.once('error', (err: NodeJS.ErrnoException) =>
      reject(err.code ? new ListenError(err.code, opts.host, opts.port) : err),
    );
    // `reusePort` is ignored by Node versions without it; sharePort is refused above for those.
    http.listen({ port: opts.port, host: opts.host, ...(opts.sharePort ? { reusePort: true } : {}) }, () =>
      resolve(),
    );
  });
  const address = http.address();
  const port = typeof address === 'object' && address ? address.port : opts.port;

  return {
    kind: 'ws',
    port,
    connectionCount: () => connections.size,
    close: async (reason) => {
      clearInterval(pinger);
      for (const c of connections) closeWith(c, reason);
      await new Promise<void>((resolve) => {
        http.close(() => resolve());
        http.closeAllConnections();
      });
      wss.close();
    },
  };
}

function reject(socket: Duplex, rejection: { status: number; code: string; detail: string }) {
  const { status } = rejection;
  const json = rejectionBody(rejection);
  socket.end(
    `HTTP/1.1 ${statusLine(status)}\r\nContent-Type: ${PROBLEM_JSON}\r\nContent-Length: ${Buffer.byteLength(json)}\r\n${BASELINE_LINES}Connection: close\r\n\r\n${json}`,
  );
}
