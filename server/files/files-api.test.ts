import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { eq } from 'drizzle-orm';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Db } from '../../db/client.ts';
import { auditLog, fileParts, files } from '../../db/schema/index.ts';
import { ENGINES, openTestEngine } from '../../test/helpers/engines.ts';
import { seedClinic, userActor } from '../messaging/test-support/chat-fixture.ts';
import { DownloadLinks } from './download-links.ts';
import {
  contentFrom,
  createUpload,
  head,
  patch,
  PDF_HEAD,
  startFilesNode,
  type FilesNode,
} from './test-support/files-harness.ts';

const pdf = (size: number) => Buffer.concat([...contentFrom(0, size)]) as Buffer<ArrayBuffer>;

describe.each(ENGINES)('files over HTTP on %s', (engine) => {
  let node: FilesNode;
  let close: () => Promise<void>;
  let room: string;
  let database: Db;
  const db = () => database;
  let tok: Record<'doctor' | 'patient' | 'otherDoctor' | 'operator', string>;

  beforeAll(async () => {
    const t = await openTestEngine(engine);
    database = t.handle.db;
    node = await startFilesNode(t.handle, { FILE_MAX_BYTES: String(8 * 1024 * 1024) });
    close = async () => {
      await node.close();
      await t.close();
    };
    const s = node.seed;
    room = (
      await node.services.messaging
        .forActor(userActor(s.doctorId, 'doctor', [s.clinicId], 'admitted'))
        .roomConversation(s.appointmentId)
    ).id;
    tok = {
      doctor: await node.tokenFor(s.doctorId, 'doctor'),
      patient: await node.tokenFor(s.patientId, 'patient'),
      otherDoctor: await node.tokenFor(s.otherDoctorId, 'doctor'),
      operator: await node.tokenFor(s.operatorId, 'operator'),
    };
  }, 60_000);
  afterAll(() => close?.());

  const meta = (over: Record<string, string> = {}) => ({
    conversationId: room,
    filename: 'befund März.pdf',
    filetype: 'application/pdf',
    ...over,
  });
  const link = async (token: string, fileId: string) => {
    const res = await fetch(`${node.base}/api/files/${fileId}/link`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}` },
    });
    return { status: res.status, body: await res.json() };
  };

  it('uploads in two PATCHes, marks a room file for the record, and serves it by link as an attachment', async () => {
    const bytes = pdf(300_000);
    const up = await createUpload(node.base, tok.doctor, bytes.length, meta());
    expect(up.status).toBe(201);
    expect((await patch(node.base, tok.doctor, up.id!, 0, bytes.subarray(0, 100_001))).offset).toBe(100_001);
    expect((await head(node.base, tok.doctor, up.id!)).offset).toBe(100_001);
    const done = await patch(node.base, tok.doctor, up.id!, 100_001, bytes.subarray(100_001));
    expect(done).toMatchObject({ status: 204, offset: bytes.length });
    const [row] = await db().select().from(files).where(eq(files.id, up.id!));
    expect(row).toMatchObject({
      status: 'complete',
      partCount: 2,
      forPatientRecord: true,
      received: bytes.length,
    });

    const l = await link(tok.patient, up.id!);
    expect(l.status).toBe(201);
    expect(l.body).toMatchObject({ name: 'befund März.pdf', type: 'application/pdf', size: bytes.length });
    const res = await fetch(`${node.base}${l.body.url}`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-disposition')).toMatch(
      /^attachment; filename="befund M_rz.pdf"; filename\*=UTF-8''befund%20M%C3%A4rz.pdf$/,
    );
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(Buffer.from(await res.arrayBuffer()).equals(bytes)).toBe(true);
    // Same link with the wrong user's bearer: refused.
    const other = await fetch(`${node.base}${l.body.url}`, {
      headers: { authorization: `Bearer ${tok.doctor}` },
    });
    expect(other.status).toBe(403);
    expect((await other.json()).code).toBe('file_link_invalid');
  });

  it('keeps only ciphertext on disk and refuses a tampered blob with a typed error', async () => {
    const marker = Buffer.from('PLAINTEXT-MARKER-'.repeat(4000));
    const bytes = Buffer.concat([PDF_HEAD, marker]) as Buffer<ArrayBuffer>;
    const up = await createUpload(node.base, tok.doctor, bytes.length, meta());
    expect((await patch(node.base, tok.doctor, up.id!, 0, bytes)).status).toBe(204);
    const [part] = await db().select().from(fileParts).where(eq(fileParts.fileId, up.id!));
    const path = join(node.blobDir, 'objects', part!.blobId.slice(0, 2), part!.blobId);
    const stored = await readFile(path);
    expect(stored.includes(Buffer.from('PLAINTEXT-MARKER'))).toBe(false);
    expect(stored.includes(Buffer.from('%PDF'))).toBe(false);
    stored[100] = stored[100]! ^ 1;
    await writeFile(path, stored);
    const l = await link(tok.doctor, up.id!);
    const res = await fetch(`${node.base}${l.body.url}`);
    expect(res.status).toBe(500);
    expect(res.headers.get('content-type')).toContain('application/problem+json');
    expect((await res.json()).code).toBe('file_unreadable');
  });

  it('refuses bad input with typed errors and keeps nothing of it', async () => {
    const bytes = pdf(50_000);
    const codeOf = async (r: Promise<{ status: number; body: any }>) => {
      const x = await r;
      return [x.status, x.body?.code];
    };
    expect(await codeOf(createUpload(node.base, tok.doctor, 9 * 1024 * 1024, meta()))).toEqual([
      413,
      'file_too_large',
    ]);
    expect(
      await codeOf(createUpload(node.base, tok.doctor, 100, meta({ filetype: 'application/x-msdownload' }))),
    ).toEqual([415, 'file_type_refused']);
    expect(await codeOf(createUpload(node.base, tok.doctor, 100, meta({ filename: '../x' })))).toEqual([
      400,
      'upload_malformed',
    ]);
    expect(await codeOf(createUpload(node.base, tok.doctor, 0, meta()))).toEqual([400, 'upload_malformed']);
    // Declared a PNG, sends a PDF: refused, no part, offset unchanged.
    const png = await createUpload(
      node.base,
      tok.doctor,
      bytes.length,
      meta({ filetype: 'image/png', filename: 'x.png' }),
    );
    const mismatch = await patch(node.base, tok.doctor, png.id!, 0, bytes);
    expect([mismatch.status, mismatch.body.code, mismatch.contentType]).toEqual([
      415,
      'file_type_refused',
      'application/problem+json',
    ]);
    expect((await head(node.base, tok.doctor, png.id!)).offset).toBe(0);
    expect(await db().select().from(fileParts).where(eq(fileParts.fileId, png.id!))).toEqual([]);

    const up = await createUpload(node.base, tok.doctor, bytes.length, meta());
    expect((await patch(node.base, tok.doctor, up.id!, 0, bytes.subarray(0, 10_000))).offset).toBe(10_000);
    // Out of order / wrong offset.
    expect(
      await codeOf(patch(node.base, tok.doctor, up.id!, 20_000, bytes.subarray(20_000, 30_000))),
    ).toEqual([409, 'upload_offset_mismatch']);
    expect(await codeOf(patch(node.base, tok.doctor, up.id!, 0, bytes.subarray(0, 10_000)))).toEqual([
      409,
      'upload_offset_mismatch',
    ]);
    // A body past Upload-Length.
    const past = Buffer.concat([bytes.subarray(10_000), Buffer.alloc(10)]) as Buffer<ArrayBuffer>;
    expect((await patch(node.base, tok.doctor, up.id!, 10_000, past)).status).toBe(413);
    expect((await head(node.base, tok.doctor, up.id!)).offset).toBe(10_000);
    // Malformed: wrong content type, no Tus-Resumable.
    const wrongType = await fetch(`${node.base}/api/files/uploads/${up.id}`, {
      method: 'PATCH',
      headers: {
        authorization: `Bearer ${tok.doctor}`,
        'tus-resumable': '1.0.0',
        'upload-offset': '10000',
        'content-type': 'text/plain',
      },
      body: 'x',
    });
    expect([wrongType.status, (await wrongType.json()).code]).toEqual([400, 'upload_malformed']);
    // Unknown upload, someone else's upload.
    expect(
      await codeOf(patch(node.base, tok.doctor, '00000000-0000-4000-8000-000000000000', 0, bytes)),
    ).toEqual([404, 'upload_not_found']);
    expect((await head(node.base, tok.patient, up.id!)).status).toBe(404);
    // Downloading an incomplete file.
    expect((await link(tok.doctor, up.id!)).body.code).toBe('file_incomplete');
    const parts = await db().select().from(fileParts).where(eq(fileParts.fileId, up.id!));
    expect(parts.map((p) => [p.plainOffset, p.plainSize])).toEqual([[0, 10_000]]);
  });

  it('lets only members of the conversation upload or get links, and audits refusals', async () => {
    const up = await createUpload(node.base, tok.doctor, 20_000, meta());
    await patch(node.base, tok.doctor, up.id!, 0, pdf(20_000));
    for (const who of ['otherDoctor', 'operator'] as const) {
      expect((await createUpload(node.base, tok[who], 100, meta())).status).toBe(404);
      expect((await link(tok[who], up.id!)).status).toBe(404);
    }
    // The patient is not in the call (the appointment is not in_call): room conversation read-only.
    expect((await createUpload(node.base, tok.patient, 100, meta())).status).toBe(403);
    expect(
      (
        await fetch(`${node.base}/api/files/uploads`, {
          method: 'POST',
          headers: { 'tus-resumable': '1.0.0' },
        })
      ).status,
    ).toBe(401);
    const denied = await db().select().from(auditLog).where(eq(auditLog.outcome, 'denied'));
    expect(denied.map((e) => e.action)).toEqual(
      expect.arrayContaining(['file.upload_created', 'file.link_issued']),
    );
    const l = await link(tok.doctor, up.id!);
    expect(
      (await fetch(`${node.base}/api/files/${up.id}/content?token=${l.body.url.split('token=')[1]}x`)).status,
    ).toBe(403);
    expect((await fetch(`${node.base}/api/files/${up.id}/content`)).status).toBe(403);
  });

  it('makes an encrypted thumbnail of an image', async () => {
    const image = (await sharp({ create: { width: 800, height: 600, channels: 3, background: '#3366aa' } })
      .png()
      .toBuffer()) as Buffer<ArrayBuffer>;
    const up = await createUpload(
      node.base,
      tok.doctor,
      image.length,
      meta({ filetype: 'image/png', filename: 'rash.png' }),
    );
    expect((await patch(node.base, tok.doctor, up.id!, 0, image)).status).toBe(204);
    const [row] = await db().select().from(files).where(eq(files.id, up.id!));
    expect(row!.thumbnailBlobId).toBeTruthy();
    const dir = join(node.blobDir, 'objects', row!.thumbnailBlobId!.slice(0, 2));
    expect(await readdir(dir)).toContain(row!.thumbnailBlobId);
  });
});
