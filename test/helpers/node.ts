import { Writable } from 'node:stream';
import { loadConfig } from '../../server/config.ts';
import { createLogger } from '../../server/logger.ts';
import { CareCallNode, type NodeOptions } from '../../server/node.ts';

/** Captures log lines so tests can assert on them (and keep test output quiet). */
export function captureLogs() {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      lines.push(...String(chunk).split('\n').filter(Boolean));
      cb();
    },
  });
  return { lines, logger: createLogger('info', stream) };
}

export async function startTestNode(env: Record<string, string> = {}, opts: NodeOptions = {}) {
  const config = loadConfig({
    NODE_ENV: 'test',
    HOST: '127.0.0.1',
    PORT: '0',
    SFU_WORKERS: '1',
    PGLITE_DIR: 'memory://',
    DEMO: 'off',
    ...env,
  });
  const logs = captureLogs();
  const node = await CareCallNode.start(config, logs.logger, opts);
  return { node, logs, baseUrl: `http://127.0.0.1:${node.port}`, wsUrl: `ws://127.0.0.1:${node.port}/ws` };
}
