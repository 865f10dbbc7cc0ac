import { randomUUID } from 'node:crypto';
import { and, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Db } from '../../db/client.ts';
import { auditLog, messages } from '../../db/schema/index.ts';
import { fileMessageBody } from '../../signaling/protocol/index.ts';
import { openTestEngine } from '../../test/helpers/engines.ts';
import {
  createUpload,
  patch,
  PDF_HEAD,
  startFilesNode,
  type FilesNode,
} from '../files/test-support/files-harness.ts';
import { userActor } from './test-support/chat-fixture.ts';

// File messages over HTTP: stored only when the file is a complete file of the same conversation.
describe('file messages over HTTP', () => {
  let node: FilesNode;
  let close: () => Promise<void>;
  let db: Db;
  let room: string;
  let care: string;
  let doctorToken: string;
  const bytes = Buffer.concat([PDF_HEAD, Buffer.alloc(4_000, 1)]) as Buffer<ArrayBuffer>;

  beforeAll(async () => {
    const t = await openTestEngine('postgres');
    db = t.handle.db;
    node = await startFilesNode(t.handle);
    close = async () => {
      await node.close();
      await t.close();
    };
    const s = node.seed;
    const doctor = node.services.messaging.forActor(
      userActor(s.doctorId, 'doctor', [s.clinicId], 'admitted'),
    );
    room = (await doctor.roomConversation(s.appointmentId)).id;
    care = (
      await doctor.openCareThread({ clinicId: s.clinicId, doctorId: s.doctorId, patientId: s.patientId })
    ).id;
    doctorToken = await node.tokenFor(s.doctorId, 'doctor');
  }, 60_000);
  afterAll(() => close?.());

  /** A file uploaded by the doctor into a conversation; complete unless asked otherwise. */
  async function upload(conversationId: string, complete = true) {
    const up = await createUpload(node.base, doctorToken, bytes.length, {
      conversationId,
      filename: 'scan.pdf',
      filetype: 'application/pdf',
    });
    expect(up.status).toBe(201);
    if (complete) expect((await patch(node.base, doctorToken, up.id!, 0, bytes)).status).toBe(204);
    return up.id!;
  }
  const api = async (method: string, path: string, body: unknown) => {
    const res = await node.app.request(
      path,
      {
        method,
        headers: { authorization: `Bearer ${doctorToken}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      },
      { remoteAddress: '203.0.113.7' },
    );
    return { status: res.status, type: res.headers.get('content-type'), body: await res.json() };
  };
  const send = (conversationId: string, id: string, body: string) =>
    api('POST', `/api/conversations/${conversationId}/messages`, { id, body });
  const stored = async (id: string) =>
    (await db.select({ seq: messages.seq }).from(messages).where(eq(messages.id, id))).length;
  const deniedFor = (id: string) =>
    db
      .select({ action: auditLog.action, reason: auditLog.reason })
      .from(auditLog)
      .where(and(eq(auditLog.resourceId, id), eq(auditLog.outcome, 'denied')));

  it('stores a file message whose file is a complete file of the conversation', async () => {
    const fileId = await upload(room);
    const id = randomUUID();
    expect((await send(room, id, fileMessageBody(fileId))).status).toBe(201);
    const res = await node.app.request(`/api/conversations/${room}/messages?limit=1`, {
      headers: { authorization: `Bearer ${doctorToken}` },
    });
    const { messages: latest } = (await res.json()) as { messages: { id: string; body: string }[] };
    expect(latest[0]).toMatchObject({ id, body: fileMessageBody(fileId) });
  });

  it('refuses an unknown file, a file of another conversation (422) and an unfinished one (409), audited as denied, nothing stored', async () => {
    const foreign = await upload(care);
    const unfinished = await upload(room, false);
    const cases: [string, number, string, string][] = [
      [randomUUID(), 422, 'message_file_unknown', 'file_unknown'],
      [foreign, 422, 'message_file_unknown', 'file_unknown'],
      [unfinished, 409, 'file_incomplete', 'file_incomplete'],
    ];
    for (const [fileId, status, code, reason] of cases) {
      const id = randomUUID();
      const res = await send(room, id, fileMessageBody(fileId));
      expect([res.status, res.type, res.body.code]).toEqual([status, 'application/problem+json', code]);
      expect(await stored(id), 'nothing stored').toBe(0);
      expect(await deniedFor(id)).toEqual([{ action: 'message.sent', reason }]);
    }
    // The same file id is fine in its own conversation; text that merely mentions a file is text.
    expect((await send(care, randomUUID(), fileMessageBody(foreign))).status).toBe(201);
    expect((await send(room, randomUUID(), `see ${fileMessageBody(randomUUID())}`)).status).toBe(201);
  });

  it('never edits a message into a file message, nor a file message at all', async () => {
    const fileId = await upload(room);
    const text = randomUUID();
    expect((await send(room, text, 'a text')).status).toBe(201);
    const intoFile = await api('PATCH', `/api/conversations/${room}/messages/${text}`, {
      body: fileMessageBody(fileId),
    });
    expect([intoFile.status, intoFile.body.code]).toEqual([409, 'message_not_editable']);
    const file = randomUUID();
    expect((await send(room, file, fileMessageBody(fileId))).status).toBe(201);
    const ofFile = await api('PATCH', `/api/conversations/${room}/messages/${file}`, { body: 'now text' });
    expect([ofFile.status, ofFile.body.code]).toEqual([409, 'message_not_editable']);
    expect((await deniedFor(text)).concat(await deniedFor(file))).toEqual([
      { action: 'message.edited', reason: 'file_message' },
      { action: 'message.edited', reason: 'file_message' },
    ]);
    // Still deletable, like any message of one's own.
    const del = await node.app.request(`/api/conversations/${room}/messages/${file}`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${doctorToken}` },
    });
    expect(del.status).toBeLessThan(300);
  });
});
