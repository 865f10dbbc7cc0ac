import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type * as UwsTypes from 'uWebSockets.js';
import type {
  ConnectionHandler,
  SocketConnection,
  SocketServer,
  SocketServerOptions,
} from './socket-server.ts';
import { closeWith } from '../../signaling/socket.ts';
import { authorizeSafely, PROBLEM_JSON, rejectionBody, statusLine } from './upgrade-rejection.ts';
import { diagnoseListenFailure } from './listen-error.ts';
import { BASELINE_SECURITY_HEADERS } from '../api/security-headers.ts';
import { requestBodyStream, sendResponse, UwsExchange } from './uws-http-bridge.ts';

/** Answers the socket tier writes itself (not through the app) carry the same baseline headers. */
function writeBaselineHeaders(res: UwsTypes.HttpResponse) {
  for (const [name, value] of Object.entries(BASELINE_SECURITY_HEADERS)) res.writeHeader(name, value);
}

type Uws = typeof UwsTypes;
type UserData<T> = { context: T; connection?: UwsConnection; handler?: ConnectionHandler };

/**
 * Loads the native uWS addon only if this Node ABI has a binary: the package would otherwise
 * fall back silently to its own JavaScript reimplementation, which we do not want to run.
 */
export function loadUws(): { uws: Uws } | { error: string } {
  const require = createRequire(import.meta.url);
  try {
    const pkgDir = dirname(dirname(require.resolve('uWebSockets.js')));
    const binary = join(
      pkgDir,
      'binaries',
      `uws_${process.platform}_${process.arch}_${process.versions.modules}.node`,
    );
    if (!existsSync(binary))
      return { error: `no uWebSockets.js binary for this Node ABI (${process.versions.modules})` };
    return { uws: require(binary) as Uws };
  } catch (err) {
    return { error: err instanceof Error ? err.message : String(err) };
  }
}

class UwsConnection implements SocketConnection {
  closed = false;
  overflowed = false;
  constructor(
    private readonly ws: UwsTypes.WebSocket<unknown>,
    readonly remoteAddress: string,
  ) {}

  send(text: string): boolean {
    if (this.closed) return false;
    // 1 sent, 0 queued (still accepted), 2 dropped at the backpressure limit (uWS then closes it).
    const status = this.ws.send(text, false);
    if (status === 2) this.overflowed = true;
    return status !== 2;
  }

  get bufferedBytes() {
    return this.closed ? 0 : this.ws.getBufferedAmount();
  }

  close(code: number, reason: string) {
    if (this.closed) return;
    this.closed = true;
    this.ws.end(code, reason);
  }
}

/**
 * uWS 20.30 cuts a connection whose frame header announces more than maxPayloadLength (TCP close,
 * no close frame: the client sees 1006). Its own limit is therefore set above the transport cap,
 * and frames between the two are closed here with 1009 as the protocol documents. Beyond this
 * multiple of the cap the native cut still applies: it bounds what uWS buffers per socket.
 */
export const UWS_HARD_PAYLOAD_FACTOR = 4;

export async function startUwsServer<T>(uws: Uws, opts: SocketServerOptions<T>): Promise<SocketServer> {
  // Drops the "uWebSockets: 20" header uWS adds to every response (it names the server and version).
  uws._cfg('silent');
  const app = uws.App();
  const connections = new Set<UwsConnection>();
  const decoder = new TextDecoder();

  for (const path of opts.paths)
    app.ws<UserData<T>>(path, {
      maxPayloadLength: opts.maxPayloadBytes * UWS_HARD_PAYLOAD_FACTOR,
      maxBackpressure: opts.maxBackpressureBytes,
      closeOnBackpressureLimit: 1,
      idleTimeout: 60,
      sendPingsAutomatically: true,
      upgrade: (res, req, socketContext) => {
        // Everything from req must be read now: it is invalid after this function returns.
        const key = req.getHeader('sec-websocket-key');
        const extensions = req.getHeader('sec-websocket-extensions');
        const headers = new Headers();
        req.forEach((k, v) => headers.append(k, v));
        const query = new URLSearchParams(req.getQuery() ?? '');
        const remoteAddress = decoder.decode(res.getRemoteAddressAsText());
        // Decided and upgraded right here, inside the handler (see SocketServerOptions.authorize).
        const decision = authorizeSafely(opts, { path, query, headers, remoteAddress });
        if (decision.ok) {
          // Only the subprotocol the decision selected: the offered list carries the credential.
          res.upgrade<UserData<T>>(
            { context: decision.context },
            key,
            decision.protocol ?? '',
            extensions,
            socketContext,
          );
        } else {
          res.writeStatus(statusLine(decision.status)).writeHeader('content-type', PROBLEM_JSON);
          writeBaselineHeaders(res);
          res.end(rejectionBody(decision));
        }
      },
      open: (ws) => {
        const data = ws.getUserData();
        const connection = new UwsConnection(
          ws as UwsTypes.WebSocket<unknown>,
          decoder.decode(ws.getRemoteAddressAsText()),
        );
        data.connection = connection;
        connections.add(connection);
        data.handler = opts.open(connection, data.context);
      },
      message: (ws, message, isBinary) => {
        const data = ws.getUserData();
        if (message.byteLength > opts.maxPayloadBytes)
          return data.connection && closeWith(data.connection, 'frame_too_large');
        data.handler?.onMessage(message, isBinary);
      },
      drain: (ws) => ws.getUserData().handler?.onDrain?.(),
      close: (ws, code) => {
        const data = ws.getUserData();
        if (data.connection) {
          data.connection.closed = true;
          connections.delete(data.connection);
        }
        data.handler?.onClose(code);
      },
    });

  app.any('/*', (res, req) => {
    const method = req.getCaseSensitiveMethod().toUpperCase();
    const query = req.getQuery();
    const url = `http://${req.getHeader('host') || 'localhost'}${req.getUrl()}${query ? `?${query}` : ''}`;
    const headers = new Headers();
    req.forEach((k, v) => headers.append(k, v));
    const remoteAddress = decoder.decode(res.getRemoteAddressAsText());
    const exchange = new UwsExchange(res);
    const head = method === 'HEAD';
    const init: RequestInit & { duplex?: 'half' } = { method, headers, signal: exchange.abort.signal };
    // Streamed both ways: the app reads the body as it arrives and limits it itself (uploads
    // stream past the API's body limit), and its response goes out as it is produced.
    if (method !== 'GET' && !head) Object.assign(init, { body: requestBodyStream(exchange), duplex: 'half' });
    const fail = () => {
      exchange.responding();
      exchange.use((r) => {
        r.writeStatus('500 Internal Server Error');
        writeBaselineHeaders(r);
        r.end();
        exchange.ended = true;
      });
    };
    (async () => {
      const response = await opts.fetch(new Request(url, init), { remoteAddress });
      await sendResponse(exchange, response, head);
    })().catch(fail);
  });

  // uWS sets SO_REUSEPORT by default, so a second process on a taken port would silently share
  // it (and its traffic); only an explicit PORT_SHARING asks for that.
  const listenOptions = opts.sharePort
    ? 0
    : (uws as unknown as { LIBUS_LISTEN_EXCLUSIVE_PORT: number }).LIBUS_LISTEN_EXCLUSIVE_PORT;
  const listen = app.listen as unknown as (
    host: string,
    port: number,
    options: number,
    cb: (s: UwsTypes.us_listen_socket | false) => void,
  ) => void;
  const listenSocket = await new Promise<UwsTypes.us_listen_socket | false>((resolve) =>
    listen.call(app, opts.host, opts.port, listenOptions, resolve),
  );
  if (!listenSocket) throw await diagnoseListenFailure(opts.host, opts.port);

  return {
    kind: 'uws',
    port: uws.us_socket_local_port(listenSocket),
    connectionCount: () => connections.size,
    close: async (reason) => {
      uws.us_listen_socket_close(listenSocket);
      for (const c of [...connections]) closeWith(c, reason);
      connections.clear();
    },
  };
}
