import { createHash } from 'node:crypto';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Db } from '../../db/client.ts';
import { fileParts } from '../../db/schema/index.ts';
import { openTestEngine } from '../../test/helpers/engines.ts';
import { userActor } from '../messaging/test-support/chat-fixture.ts';
import {
  contentFrom,
  createUpload,
  head,
  patchStream,
  patchThenDrop,
  sha256Of,
  startFilesNode,
  type FilesNode,
} from './test-support/files-harness.ts';

const GB = 1024 ** 3;
/**
 * uWS 20.30 resets a request whose Content-Length has ten digits or more (1e9 bytes and up) before
 * any of our code runs; tus clients send a large file as several PATCH requests anyway.
 */
const MAX_REQUEST_BYTES = { ws: GB, uws: 768 * 1024 ** 2 };

/**
 * The hospital Wi-Fi case at full size: 1 GiB, the connection cut mid-chunk, resumed, downloaded
 * byte-identical; on both socket tiers (node:http, and the uWS bridge, which streams both ways).
 */
describe.each(['ws', 'uws'] as const)(
  'a 1 GiB upload with a dropped connection, on PostgreSQL, %s tier',
  (tier) => {
    let node: FilesNode;
    let close: () => Promise<void>;
    let db: Db;

    beforeAll(async () => {
      const t = await openTestEngine('postgres');
      db = t.handle.db;
      node = await startFilesNode(t.handle, {}, tier);
      close = async () => {
        await node.close();
        await t.close();
      };
    }, 60_000);
    afterAll(() => close?.());

    it('resumes at the byte-exact offset and downloads the same bytes', async () => {
      const s = node.seed;
      const room = (
        await node.services.messaging
          .forActor(userActor(s.doctorId, 'doctor', [s.clinicId], 'admitted'))
          .roomConversation(s.appointmentId)
      ).id;
      const token = await node.tokenFor(s.doctorId, 'doctor');
      const up = await createUpload(node.base, token, GB, {
        conversationId: room,
        filename: 'scan.pdf',
        filetype: 'application/pdf',
      });
      expect(up.status).toBe(201);

      // Cut in the middle of a 64 KiB cipher chunk, and of a 1 MiB generator block.
      const perRequest = MAX_REQUEST_BYTES[tier];
      await patchThenDrop(node.base, token, up.id!, 0, Math.min(GB, perRequest), GB / 2 + 12_345);
      let offset = NaN;
      // The server finishes storing the received part shortly after the socket is gone.
      // The offset is read after the part is seen: read before, it can predate the part's commit (0).
      for (let i = 0; i < 300; i++) {
        const parts = await db.select().from(fileParts).where(eq(fileParts.fileId, up.id!));
        if (parts.length === 1) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      offset = (await head(node.base, token, up.id!)).offset;
      expect(offset).toBeGreaterThan(0);
      expect(offset).toBeLessThanOrEqual(GB / 2 + 12_345);
      const done = await patchStream(node.base, token, up.id!, offset, GB);
      expect(done).toEqual({ status: 204, offset: GB });

      const link = await fetch(`${node.base}/api/files/${up.id}/link`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}` },
      }).then((r) => r.json());
      const res = await fetch(`${node.base}${link.url}`);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-length')).toBe(String(GB));
      const downloaded = createHash('sha256');
      let size = 0;
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        downloaded.update(chunk);
        size += chunk.byteLength;
      }
      expect(size).toBe(GB);
      expect(downloaded.digest('hex')).toBe(sha256Of(contentFrom(0, GB)));
    }, 120_000);
  },
);
