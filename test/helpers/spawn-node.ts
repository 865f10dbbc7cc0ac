import { spawn } from 'node:child_process';

export type LogLine = { msg?: string; level?: number; port?: number; code?: string; [key: string]: unknown };

/**
 * Runs `server/main.ts` as its own process (as an operator would) and collects its JSON log lines.
 * `until` resolves with the exit code, or 'running' once a line matching `ready` appeared.
 */
export function spawnNode(env: Record<string, string>) {
  const child = spawn(process.execPath, ['--import', 'tsx', 'server/main.ts'], {
    env: {
      ...process.env,
      HOST: '127.0.0.1',
      DEMO: 'off',
      SFU_WORKERS: '1',
      PGLITE_DIR: 'memory://',
      LOG_LEVEL: 'info',
      NODE_ENV: 'test',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: LogLine[] = [];
  let stderr = '';
  let buffered = '';
  child.stdout.on('data', (d: Buffer) => {
    buffered += d.toString();
    const parts = buffered.split('\n');
    buffered = parts.pop()!;
    for (const l of parts) if (l.startsWith('{')) lines.push(JSON.parse(l) as LogLine);
  });
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return {
    child,
    lines,
    stderr: () => stderr,
    exited,
    /** The exit code, or 'running' once a log line satisfies `ready` (within timeoutMs). */
    async until(ready: (line: LogLine) => boolean, timeoutMs = 90_000): Promise<number | null | 'running'> {
      const deadline = Date.now() + timeoutMs;
      while (Date.now() < deadline) {
        if (lines.some(ready)) return 'running';
        if (child.exitCode !== null) return child.exitCode;
        await new Promise((r) => setTimeout(r, 50));
      }
      throw new Error(
        `node neither became ready nor exited in ${timeoutMs} ms; log: ${lines.map((l) => l.msg).join(' | ')} ${stderr}`,
      );
    },
    kill() {
      if (child.exitCode === null) child.kill('SIGKILL');
    },
  };
}
