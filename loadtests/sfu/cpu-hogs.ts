import { spawn, type ChildProcess } from 'node:child_process';

/**
 * Busy processes competing for the CPU, like other tenants of a shared machine: each spins one
 * core at normal priority. Returned function stops exactly the processes started here.
 */
export function startCpuHogs(count: number): () => void {
  const hogs: ChildProcess[] = [];
  for (let i = 0; i < count; i++)
    hogs.push(spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' }));
  return () => {
    for (const hog of hogs)
      if (hog.pid !== undefined && hog.exitCode === null) process.kill(hog.pid, 'SIGKILL');
  };
}
