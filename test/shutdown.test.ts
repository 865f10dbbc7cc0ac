import { spawn, execFileSync } from 'node:child_process';
import { expect, it } from 'vitest';
import { isAlive } from './helpers/process.ts';
import { connectClient } from './helpers/ws-client.ts';
import { loadJoinTokenKeys, JoinTokenIssuer } from '../server/media/join-tokens.ts';
import { generateKeyPairSync } from 'node:crypto';
import { newRoomId } from './helpers/tokens.ts';

it(
  'SIGTERM closes connections, rooms, workers, bus and database in reverse order; no orphan workers',
  { timeout: 120_000 },
  async () => {
    const pem = generateKeyPairSync('ed25519').privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
    const child = spawn(process.execPath, ['--import', 'tsx', 'server/main.ts'], {
      env: {
        ...process.env,
        PORT: '0',
        HOST: '127.0.0.1',
        DEMO: 'off',
        SFU_WORKERS: '2',
        PGLITE_DIR: 'memory://',
        JOIN_TOKEN_PRIVATE_KEY: pem,
        LOG_LEVEL: 'info',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const lines: { msg?: string; part?: string; port?: number }[] = [];
    let buffered = '';
    child.stdout.on('data', (d: Buffer) => {
      buffered += d.toString();
      const parts = buffered.split('\n');
      buffered = parts.pop()!;
      for (const l of parts) if (l.startsWith('{')) lines.push(JSON.parse(l));
    });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      for (let i = 0; i < 1200 && !lines.some((l) => l.port); i++)
        await new Promise((r) => setTimeout(r, 50));
      const port = lines.find((l) => l.port)!.port!;

      // comm is cut to 15 characters by the kernel: "mediasoup-worke".
      const workerPids = execFileSync('ps', ['-o', 'pid=,comm=', '--ppid', String(child.pid)], {
        encoding: 'utf8',
      })
        .split('\n')
        .filter((l) => l.includes('mediasoup-worke'))
        .map((l) => Number(l.trim().split(/\s+/)[0]));
      expect(workerPids).toHaveLength(2);

      const issuer = new JoinTokenIssuer(loadJoinTokenKeys(pem), 60);
      const client = await connectClient(
        `ws://127.0.0.1:${port}/ws`,
        await issuer.mint({ sub: 'u', room: newRoomId(), role: 'patient', perms: ['publish', 'subscribe'] }),
      );
      const { rtpCapabilities } = await client.request('getRouterRtpCapabilities', {});
      await client.request('join', { rtpCapabilities: rtpCapabilities as never });

      child.kill('SIGTERM');
      expect(await client.closed).toEqual({ code: 1001, reason: 'server_shutdown' });
      expect(await exited).toBe(0);
      const stopped = lines.filter((l) => l.msg === 'stopped').map((l) => l.part);
      expect(stopped).toEqual([
        'socket server',
        'user sockets',
        'join grants',
        'signal relay',
        'cluster heartbeat',
        'rooms',
        'unread chat notices',
        'live chat sweeper',
        'webhook delivery',
        'scheduling worker',
        'audit checkpoints',
        'password hashing threads',
        'sfu workers',
        'bus',
        'database',
      ]);
      // Checked right at exit: the node waits for its workers instead of leaving them to die later.
      expect(workerPids.filter(isAlive)).toEqual([]);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  },
);
