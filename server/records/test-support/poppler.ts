import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** A scratch directory for PDFs and an NSS database; remove() deletes it. */
export function scratchDir(): {
  path: string;
  file: (name: string, bytes: Uint8Array | string) => string;
  remove: () => void;
} {
  const path = mkdtempSync(join(tmpdir(), 'carecall-pdf-'));
  return {
    path,
    file: (name, bytes) => {
      const p = join(path, name);
      writeFileSync(p, bytes);
      return p;
    },
    remove: () => rmSync(path, { recursive: true, force: true }),
  };
}

/** An NSS database (certutil, libnss3-tools) in which the given CA certificate is a trusted root. */
export async function nssDbTrusting(dir: string, caPemFile: string): Promise<string> {
  await run('certutil', ['-N', '-d', `sql:${dir}`, '--empty-password']);
  await run('certutil', [
    '-A',
    '-d',
    `sql:${dir}`,
    '-n',
    'carecall-test-ca',
    '-t',
    'CT,C,C',
    '-i',
    caPemFile,
  ]);
  return `sql:${dir}`;
}

/** Runs poppler's pdfsig; returns its output whatever its exit code (it exits non-zero on an invalid signature). */
export async function pdfsig(file: string, nssDir?: string): Promise<string> {
  const args = nssDir ? ['-nssdir', nssDir, file] : [file];
  try {
    const { stdout, stderr } = await run('pdfsig', args);
    return stdout + stderr;
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; code?: unknown };
    if (typeof e.code !== 'number') throw err;
    return (e.stdout ?? '') + (e.stderr ?? '');
  }
}

export async function pdftotext(file: string): Promise<string> {
  return (await run('pdftotext', ['-enc', 'UTF-8', file, '-'])).stdout;
}

export async function pdfinfo(file: string): Promise<string> {
  return (await run('pdfinfo', [file])).stdout;
}

export async function pdffonts(file: string): Promise<string> {
  return (await run('pdffonts', [file])).stdout;
}
