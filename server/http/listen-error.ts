import { createServer } from 'node:net';

/** The public port could not be bound; `code` is the errno name (EADDRINUSE, EACCES, ...). */
export class ListenError extends Error {
  constructor(
    readonly code: string,
    readonly host: string,
    readonly port: number,
  ) {
    super(
      code === 'EADDRINUSE'
        ? `${host}:${port} is already in use by another process (set PORT_SHARING=on only to run several nodes on one port on purpose)`
        : `cannot listen on ${host}:${port} (${code})`,
    );
    this.name = 'ListenError';
  }
}

/**
 * uWS reports a failed listen as `false`, without the reason. Binding the same address once more
 * with node:net (exclusively, released at once) recovers the errno for the log line.
 */
export function diagnoseListenFailure(host: string, port: number): Promise<ListenError> {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.once('error', (err: NodeJS.ErrnoException) =>
      resolve(new ListenError(err.code ?? 'UNKNOWN', host, port)),
    );
    probe.listen({ host, port, exclusive: true }, () =>
      probe.close(() => resolve(new ListenError('UNKNOWN', host, port))),
    );
  });
}

/** Node's listen() accepts `reusePort` (SO_REUSEPORT) from 22.12 / 23.1 on. */
export function nodeSupportsReusePort(version = process.versions.node): boolean {
  const [major = 0, minor = 0] = version.split('.').map(Number);
  return major > 22 || (major === 22 && minor >= 12);
}
