import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openTestEngine } from '../../test/helpers/engines.ts';
import { startFilesNode, type FilesNode } from '../files/test-support/files-harness.ts';

/** A PATCH streaming `bytes` of zeros with no credential: what the server answers, and when. */
function unauthenticatedPatch(base: string, bytes: number) {
  return new Promise<{ status: number }>((resolve, reject) => {
    const url = new URL(`${base}/api/files/uploads/nope`);
    const req = request(
      {
        host: url.hostname,
        port: url.port,
        path: url.pathname,
        method: 'PATCH',
        headers: {
          'tus-resumable': '1.0.0',
          'upload-offset': '0',
          'content-type': 'application/offset+octet-stream',
          'content-length': String(bytes),
        },
      },
      (res) => {
        res.resume();
        resolve({ status: res.statusCode ?? 0 });
        req.destroy();
      },
    );
    req.on('error', (err) => (err.message.includes('socket hang up') ? undefined : reject(err)));
    const chunk = Buffer.alloc(1024 * 1024);
    let sent = 0;
    const pump = () => {
      while (sent < bytes) {
        sent += chunk.length;
        if (!req.write(chunk)) return void req.once('drain', pump);
      }
      req.end();
    };
    pump();
  });
}

describe('the uWS bridge streams request bodies', () => {
  let node: FilesNode;
  let close: () => Promise<void>;
  beforeAll(async () => {
    const t = await openTestEngine('postgres');
    node = await startFilesNode(t.handle, {}, 'uws');
    close = async () => {
      await node.close();
      await t.close();
    };
  }, 60_000);
  afterAll(() => close?.());

  it('an answer given before the body is read (401) goes out at once, and the server keeps serving', async () => {
    // 256 MiB announced: far more than the bridge buffers before it pauses the socket.
    expect(await unauthenticatedPatch(node.base, 256 * 1024 * 1024)).toEqual({ status: 401 });
    const res = await fetch(`${node.base}/api/files/uploads/nope`, { method: 'HEAD' });
    expect(res.status).toBe(401);
  });

  it('bodies outside /api/files are limited by the app (413 problem+json), not cut by the bridge', async () => {
    const res = await fetch(`${node.base}/api/nope`, {
      method: 'POST',
      body: new Uint8Array(10 * 1024 * 1024 + 1),
    });
    expect(res.status).toBe(413);
    expect(await res.json()).toMatchObject({ code: 'payload_too_large' });
  });
});
