import { execFileSync } from 'node:child_process';
import { mkdtempSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { isAlive } from '../test/helpers/process.ts';
import { Room } from './room.ts';
import { WorkerPool } from './worker-pool.ts';

type RespawnFailure = { index: number; message: string; attempt: number; retryInMs: number; at: number };

let dir: string;
let dtls: { certificateFile: string; privateKeyFile: string };
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'sfu-respawn-'));
  dtls = { certificateFile: join(dir, 'cert.pem'), privateKeyFile: join(dir, 'key.pem') };
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-days',
      '1',
      '-subj',
      '/CN=sfu-test',
      '-keyout',
      dtls.privateKeyFile,
      '-out',
      dtls.certificateFile,
    ],
    { stdio: 'ignore' },
  );
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

it('a worker that cannot be restarted is reported on every attempt and retried with a growing pause until it starts', async () => {
  const pool = await WorkerPool.create({
    numWorkers: 1,
    listenIp: '127.0.0.1',
    basePort: 0,
    logLevel: 'none',
    dtls,
    respawnBackoffMs: { first: 100, max: 400 },
  });
  const failures: RespawnFailure[] = [];
  pool.on('workerRespawnFailed', (index, error, attempt, retryInMs) =>
    failures.push({ index, message: error.message, attempt, retryInMs, at: Date.now() }),
  );
  try {
    // A real worker refuses to start without its certificate file: every respawn fails until it is back.
    const hidden = `${dtls.certificateFile}.hidden`;
    renameSync(dtls.certificateFile, hidden);
    const [pid] = pool.pids();
    process.kill(pid!, 'SIGKILL');
    const deadline = Date.now() + 20_000;
    while (failures.length < 4 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(failures.length, 'respawn failures reported within 20 s').toBeGreaterThanOrEqual(4);
    expect(pool.health(), 'the slot stays dead while respawns fail').toEqual({ alive: 0, total: 1 });
    expect(failures.map((f) => f.attempt).slice(0, 4), 'attempts are numbered').toEqual([1, 2, 3, 4]);
    expect(failures.map((f) => f.retryInMs).slice(0, 4), 'the pause doubles up to its maximum').toEqual([
      100, 200, 400, 400,
    ]);
    expect(
      failures.every((f) => f.index === 0 && f.message.length > 0),
      'each failure names the worker slot and the error',
    ).toBe(true);
    for (let i = 1; i < 4; i++) {
      expect(
        failures[i]!.at - failures[i - 1]!.at,
        `attempt ${i + 1} waited for the pause`,
      ).toBeGreaterThanOrEqual(failures[i - 1]!.retryInMs - 20);
    }

    const replaced = new Promise<void>((resolve) => pool.once('workerReplaced', () => resolve()));
    renameSync(hidden, dtls.certificateFile);
    await replaced;
    expect(pool.health(), 'the next retry after the fix brings the worker back').toEqual({
      alive: 1,
      total: 1,
    });
    expect(pool.pids()[0], 'the replacement is a new process').not.toBe(pid);
    const room = await Room.create('room-after-respawn', await pool.leastLoaded());
    expect(room.closed, 'the replacement hosts rooms').toBe(false);
  } finally {
    const pids = pool.pids();
    await pool.close();
    expect(pids.filter(isAlive), 'no worker process outlives the pool').toEqual([]);
  }
});

it('closing the pool stops the retries', async () => {
  const pool = await WorkerPool.create({
    numWorkers: 1,
    listenIp: '127.0.0.1',
    basePort: 0,
    logLevel: 'none',
    dtls,
    respawnBackoffMs: { first: 100, max: 100 },
  });
  const hidden = `${dtls.certificateFile}.hidden`;
  renameSync(dtls.certificateFile, hidden);
  try {
    let failures = 0;
    const firstFailure = new Promise<void>((resolve) =>
      pool.on('workerRespawnFailed', () => (failures++, resolve())),
    );
    process.kill(pool.pids()[0]!, 'SIGKILL');
    await firstFailure;
    await pool.close();
    const afterClose = failures;
    await new Promise((r) => setTimeout(r, 500));
    expect(failures, 'no respawn attempt after close').toBe(afterClose);
    expect(pool.health().alive, 'nothing was started after close').toBe(0);
  } finally {
    renameSync(hidden, dtls.certificateFile);
    await pool.close();
  }
});
