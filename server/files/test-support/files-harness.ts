import { createCipheriv, createHash, randomBytes } from 'node:crypto';
import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getRequestListener } from '@hono/node-server';
import { Registry } from 'prom-client';
import pino from 'pino';
import type { DbHandle } from '../../../db/client.ts';
import { createApp } from '../../app.ts';
import { loadConfig } from '../../config.ts';
import { createServices } from '../../services.ts';
import { seedClinic } from '../../messaging/test-support/chat-fixture.ts';
import type { UserRole } from '../../../db/schema/index.ts';
import { loadUws, startUwsServer } from '../../http/uws-server.ts';

/**
 * The real app on a real socket, on a given database: node:http as the ws socket tier serves it,
 * or the uWebSockets.js bridge (`tier: 'uws'`; its WebSocket path refuses every upgrade here).
 */
export async function startFilesNode(
  handle: DbHandle,
  env: Record<string, string> = {},
  tier: 'ws' | 'uws' = 'ws',
) {
  const blobDir = await mkdtemp(join(tmpdir(), 'carecall-files-'));
  const config = loadConfig({
    NODE_ENV: 'test',
    DEMO: 'off',
    PASSWORD_HASH_STRENGTH: 'minimum',
    AUDIT_CHAIN_KEY: randomBytes(32).toString('base64'),
    DATA_KEK: randomBytes(32).toString('base64'),
    BLOB_STORE_DIR: blobDir,
    ...env,
  });
  const logger = pino({ level: 'silent' });
  const services = await createServices(config, { db: handle.db, logger });
  const app = createApp(services, {
    logger,
    turn: undefined,
    demo: undefined,
    registry: new Registry(),
    checks: {},
  });
  const fetch = (req: Request, remoteAddress: string) => app.fetch(req, { remoteAddress });
  const { base, stop } = tier === 'uws' ? await listenUws(fetch) : await listenNodeHttp(fetch);
  const seed = await seedClinic(handle.db);
  const tokenFor = async (id: string, role: UserRole) =>
    (await services.identity.sessions.create({ id, role }, { ip: '127.0.0.1', userAgent: 'test' }))
      .accessToken;
  return {
    app,
    services,
    config,
    base,
    blobDir,
    seed,
    tokenFor,
    close: async () => {
      await stop();
      await rm(blobDir, { recursive: true, force: true });
    },
  };
}

type AppFetch = (req: Request, remoteAddress: string) => Response | Promise<Response>;

async function listenNodeHttp(fetch: AppFetch) {
  const server: Server = createServer(
    getRequestListener((req, env) => fetch(req, env.incoming.socket.remoteAddress ?? '')),
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

async function listenUws(fetch: AppFetch) {
  const loaded = loadUws();
  if (!('uws' in loaded)) throw new Error(`uWebSockets.js does not load: ${loaded.error}`);
  const server = await startUwsServer(loaded.uws, {
    host: '127.0.0.1',
    port: 0,
    paths: ['/ws'],
    maxPayloadBytes: 1024 * 1024,
    sharePort: false,
    maxBackpressureBytes: 4 * 1024 * 1024,
    fetch: (req, env) => fetch(req, env.remoteAddress),
    authorize: () => ({ ok: false, status: 404, code: 'not_found', detail: 'no sockets here' }),
    open: () => {
      throw new Error('no sockets here');
    },
  });
  return { base: `http://127.0.0.1:${server.port}`, stop: () => server.close('server_shutdown') };
}

export type FilesNode = Awaited<ReturnType<typeof startFilesNode>>;

/** An access token, or a whole `Room <grant>` credential as the room page sends it. */
export const credential = (token: string) => (token.startsWith('Room ') ? token : `Bearer ${token}`);

export const tusMetadata = (m: Record<string, string>) =>
  Object.entries(m)
    .map(([k, v]) => `${k} ${Buffer.from(v).toString('base64')}`)
    .join(',');

/** POST a new tus upload; the Location's id, or the response when refused. */
export async function createUpload(
  base: string,
  token: string,
  size: number,
  meta: Record<string, string>,
): Promise<{ status: number; id?: string; body: any }> {
  const res = await fetch(`${base}/api/files/uploads`, {
    method: 'POST',
    headers: {
      authorization: credential(token),
      'tus-resumable': '1.0.0',
      'upload-length': String(size),
      'upload-metadata': tusMetadata(meta),
    },
  });
  const text = await res.text();
  const location = res.headers.get('location');
  return {
    status: res.status,
    ...(location ? { id: location.split('/').pop()! } : {}),
    body: text ? safeJson(text) : undefined,
  };
}

export async function patch(
  base: string,
  token: string,
  id: string,
  offset: number,
  body: Uint8Array<ArrayBuffer>,
) {
  const res = await fetch(`${base}/api/files/uploads/${id}`, {
    method: 'PATCH',
    headers: {
      authorization: credential(token),
      'tus-resumable': '1.0.0',
      'upload-offset': String(offset),
      'content-type': 'application/offset+octet-stream',
    },
    body,
  });
  const text = await res.text();
  return {
    status: res.status,
    offset: Number(res.headers.get('upload-offset') ?? NaN),
    contentType: res.headers.get('content-type') ?? '',
    body: text ? safeJson(text) : undefined,
  };
}

export async function head(base: string, token: string, id: string) {
  const res = await fetch(`${base}/api/files/uploads/${id}`, {
    method: 'HEAD',
    headers: { authorization: credential(token), 'tus-resumable': '1.0.0' },
  });
  return { status: res.status, offset: Number(res.headers.get('upload-offset') ?? NaN) };
}

const safeJson = (text: string) => {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
};

/**
 * Deterministic pseudo-random file content, generated as it is sent (AES-CTR over zeros, one MiB
 * block at a time, seekable), starting with a PDF signature so the type check passes.
 */
export const PDF_HEAD = Buffer.from('%PDF-1.7\n%\xe2\xe3\xcf\xd3\n', 'latin1');
const BLOCK = 1024 * 1024;
const KEY = Buffer.alloc(16, 7);
export function* contentFrom(offset: number, end: number): Generator<Buffer> {
  for (let block = Math.floor(offset / BLOCK); block * BLOCK < end; block++) {
    const iv = Buffer.alloc(16);
    iv.writeUInt32BE(block, 0);
    const bytes = createCipheriv('aes-128-ctr', KEY, iv).update(Buffer.alloc(BLOCK));
    if (block === 0) PDF_HEAD.copy(bytes, 0);
    const from = Math.max(offset - block * BLOCK, 0);
    const to = Math.min(end - block * BLOCK, BLOCK);
    yield bytes.subarray(from, to);
  }
}

export function sha256Of(chunks: Iterable<Buffer>): string {
  const h = createHash('sha256');
  for (const c of chunks) h.update(c);
  return h.digest('hex');
}

/**
 * A PATCH that sends content from `offset` and cuts its own connection after `dropAfter` bytes
 * (the hospital Wi-Fi dropping mid-chunk); resolves once the socket is gone.
 */
export function patchThenDrop(
  base: string,
  token: string,
  id: string,
  offset: number,
  end: number,
  dropAfter: number,
): Promise<void> {
  return new Promise((resolve) => {
    const url = new URL(`${base}/api/files/uploads/${id}`);
    const req = httpRequest({
      host: url.hostname,
      port: url.port,
      path: url.pathname,
      method: 'PATCH',
      headers: {
        authorization: credential(token),
        'tus-resumable': '1.0.0',
        'upload-offset': String(offset),
        'content-type': 'application/offset+octet-stream',
        'content-length': String(end - offset),
      },
    });
    req.on('error', () => resolve());
    req.on('close', () => resolve());
    let sent = 0;
    const gen = contentFrom(offset, offset + dropAfter);
    const pump = () => {
      for (;;) {
        const next = gen.next();
        if (next.done) {
          // Give the server a moment to read what is in flight, then cut the connection.
          setTimeout(() => req.destroy(), 200);
          return;
        }
        sent += next.value.length;
        if (!req.write(next.value)) return void req.once('drain', pump);
      }
    };
    pump();
  });
}

/** A PATCH streaming content offset..end through node:http (no buffering of the body). */
export function patchStream(base: string, token: string, id: string, offset: number, end: number) {
  return new Promise<{ status: number; offset: number }>((resolve, reject) => {
    const url = new URL(`${base}/api/files/uploads/${id}`);
    const req = httpRequest(
      {
        host: url.hostname,
        port: url.port,
        path: url.pathname,
        method: 'PATCH',
        headers: {
          authorization: credential(token),
          'tus-resumable': '1.0.0',
          'upload-offset': String(offset),
          'content-type': 'application/offset+octet-stream',
          'content-length': String(end - offset),
        },
      },
      (res) => {
        res.resume();
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, offset: Number(res.headers['upload-offset'] ?? NaN) }),
        );
      },
    );
    req.on('error', reject);
    const gen = contentFrom(offset, end);
    const pump = () => {
      for (;;) {
        const next = gen.next();
        if (next.done) return void req.end();
        if (!req.write(next.value)) return void req.once('drain', pump);
      }
    };
    pump();
  });
}
