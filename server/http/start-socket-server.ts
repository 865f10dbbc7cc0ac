import type { Logger } from '../logger.ts';
import { startNodeWsServer } from './node-ws-server.ts';
import type { SocketServer, SocketServerOptions } from './socket-server.ts';
import { loadUws, startUwsServer } from './uws-server.ts';
import { ListenError } from './listen-error.ts';

/**
 * uWebSockets.js where its native addon loads, otherwise ws on node:http; one log line says which.
 * A port that cannot be bound (taken, not permitted) is one clear log line and a thrown ListenError.
 */
export async function startSocketServer<T>(
  preference: 'auto' | 'uws' | 'ws',
  opts: SocketServerOptions<T>,
  logger: Logger,
): Promise<SocketServer> {
  try {
    return await start(preference, opts, logger);
  } catch (err) {
    if (err instanceof ListenError) {
      logger.fatal(
        { code: err.code, host: err.host, port: err.port },
        err.code === 'EADDRINUSE' ? 'port already in use: not starting' : 'cannot listen: not starting',
      );
    }
    throw err;
  }
}

async function start<T>(
  preference: 'auto' | 'uws' | 'ws',
  opts: SocketServerOptions<T>,
  logger: Logger,
): Promise<SocketServer> {
  if (preference !== 'ws') {
    const loaded = loadUws();
    if ('uws' in loaded) {
      const server = await startUwsServer(loaded.uws, opts);
      logger.info({ socketServer: 'uws', port: server.port }, 'listening (uWebSockets.js)');
      return server;
    }
    if (preference === 'uws')
      throw new Error(`SOCKET_SERVER=uws but uWebSockets.js does not load: ${loaded.error}`);
    logger.info({ reason: loaded.error }, 'uWebSockets.js unavailable, using ws on node:http');
  }
  const server = await startNodeWsServer(opts);
  logger.info({ socketServer: 'ws', port: server.port }, 'listening (ws on node:http)');
  return server;
}
