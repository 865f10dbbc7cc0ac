import { spawn, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { freePort } from './ports.ts';

export type LogLine = { level?: number; msg?: string; port?: number; [key: string]: unknown };

export type NodeProcess = {
  child: ChildProcess;
  port: number;
  baseUrl: string;
  /** Every JSON log line so far (stdout). */
  lines: LogLine[];
  /** Non-JSON output (stderr, a crash's stack trace). */
  stderr: () => string;
  /** Resolves with the exit code (or signal) if the process ends. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  alive: () => boolean;
  /** SIGTERM, then SIGKILL if it has not exited in time. */
  stop: () => Promise<void>;
};

export const ed25519Pem = () =>
  generateKeyPairSync('ed25519').privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();

/**
 * The real node (server/main.ts) in a child process, as production runs it: a crash ends the
 * process instead of failing a test worker, so a test can tell "still up" from "died".
 */
export async function startNodeProcess(
  env: Record<string, string>,
  opts: { startTimeoutMs?: number } = {},
): Promise<NodeProcess> {
  const port = await freePort();
  const child = spawn(process.execPath, ['--import', 'tsx', 'server/main.ts'], {
    env: {
      ...process.env,
      NODE_ENV: 'test',
      HOST: '127.0.0.1',
      DEMO: 'off',
      SFU_WORKERS: '1',
      LOG_LEVEL: 'info',
      ...env,
      PORT: String(port),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: LogLine[] = [];
  let pending = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => {
    pending += d.toString();
    const parts = pending.split('\n');
    pending = parts.pop()!;
    for (const l of parts) {
      if (!l.startsWith('{')) continue;
      try {
        lines.push(JSON.parse(l) as LogLine);
      } catch {
        // a partial or foreign line
      }
    }
  });
  child.stderr!.on('data', (d: Buffer) => void (stderr += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  const alive = () => child.exitCode === null && child.signalCode === null;
  const deadline = Date.now() + (opts.startTimeoutMs ?? 90_000);
  // Up when it answers (whatever LOG_LEVEL hides).
  while (
    !(await fetch(`http://127.0.0.1:${port}/healthz`).then(
      (r) => r.ok,
      () => false,
    ))
  ) {
    if (!alive() || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`node did not start: ${stderr.slice(-2000)}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    child,
    port,
    baseUrl: `http://127.0.0.1:${port}`,
    lines,
    stderr: () => stderr,
    exited,
    alive,
    stop: async () => {
      if (!alive()) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
