import { createHash } from 'node:crypto';
import { and, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditLog } from '../../db/schema/index.ts';
import type { Db } from '../../db/client.ts';
import { openTestEngine } from '../../test/helpers/engines.ts';
import { guestActor, userActor } from '../messaging/test-support/chat-fixture.ts';
import type { ChatActor } from '../messaging/types.ts';
import {
  createUpload,
  credential,
  patch,
  PDF_HEAD,
  startFilesNode,
  type FilesNode,
} from './test-support/files-harness.ts';

// A room participant's credential for files: a grant for its room conversation only, decided by the chat rules.
describe('room file grants over HTTP', () => {
  let node: FilesNode;
  let close: () => Promise<void>;
  let db: Db;
  let room: string;
  let care: string;

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
  }, 60_000);
  afterAll(() => close?.());

  /** A grant as the room tier issues it: in an open admission of the speaker. */
  const grant = async (who: ChatActor, conversationId = room) => {
    const admission = crypto.randomUUID();
    const speakerId = who.kind === 'guest' ? `guest:${who.guestId}` : who.actor.userId;
    await node.services.files.admissions.open(admission, conversationId, speakerId);
    return `Room ${(await node.services.files.grants.mint(who, conversationId, admission)).token}`;
  };
  const patient = () => userActor(node.seed.patientId, 'patient', [node.seed.clinicId], 'admitted');
  const bytes = Buffer.concat([PDF_HEAD, Buffer.alloc(20_000, 1)]) as Buffer<ArrayBuffer>;
  const meta = (conversationId = room) => ({
    conversationId,
    filename: 'scan.pdf',
    filetype: 'application/pdf',
  });
  const api = async (method: string, path: string, auth: string) => {
    const res = await fetch(`${node.base}${path}`, { method, headers: { authorization: auth } });
    return { status: res.status, body: await res.json() };
  };

  it('lets a guest in the room upload, describe, link and download in its room conversation, audited', async () => {
    const guest = await grant(guestActor(node.seed.guestId, node.seed.appointmentId));
    const up = await createUpload(node.base, guest, bytes.length, meta());
    expect(up.status).toBe(201);
    expect((await patch(node.base, guest, up.id!, 0, bytes)).status).toBe(204);
    // The doctor, with an ordinary access token, sees the same file.
    const described = await api(
      'GET',
      `/api/files/${up.id}`,
      credential(await node.tokenFor(node.seed.doctorId, 'doctor')),
    );
    expect(described).toMatchObject({
      status: 200,
      body: {
        name: 'scan.pdf',
        size: bytes.length,
        type: 'application/pdf',
        complete: true,
        thumbnail: null,
      },
    });
    const link = await api('POST', `/api/files/${up.id}/link`, await grant(patient()));
    expect(link.status).toBe(201);
    const res = await fetch(`${node.base}${link.body.url}`);
    expect(res.status).toBe(200);
    const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
    expect(sha(new Uint8Array(await res.arrayBuffer()))).toBe(sha(bytes));
    const audited = await db
      .select({ action: auditLog.action, actorId: auditLog.actorId })
      .from(auditLog)
      .where(and(eq(auditLog.resourceId, up.id!), eq(auditLog.outcome, 'allowed')));
    expect(audited).toEqual(
      expect.arrayContaining([
        { action: 'file.upload_created', actorId: `guest:${node.seed.guestId}` },
        { action: 'file.link_issued', actorId: node.seed.patientId },
        { action: 'file.downloaded', actorId: node.seed.patientId },
      ]),
    );
  });

  it('reaches no other conversation, refuses an expired guest, a forged or malformed grant', async () => {
    const s = node.seed;
    // A grant minted for the room, used on the care thread of the same patient: unknown, and audited.
    const outside = await createUpload(node.base, await grant(patient()), bytes.length, meta(care));
    expect(outside).toMatchObject({ status: 404, body: { code: 'not_found' } });
    const denied = await db
      .select({ action: auditLog.action })
      .from(auditLog)
      .where(and(eq(auditLog.actorId, s.patientId), eq(auditLog.outcome, 'denied')));
    expect(denied.map((d) => d.action)).toContain('file.upload_created');
    // A guest whose invitation has ended: the chat rules refuse it although its grant is valid.
    const expired = await createUpload(
      node.base,
      await grant(guestActor(s.expiredGuestId, s.appointmentId)),
      bytes.length,
      meta(),
    );
    expect(expired).toMatchObject({ status: 403, body: { code: 'forbidden' } });
    // A grant signed with another key, and a malformed header.
    const forged = `Room ${(await grant(patient())).slice(5, -4)}AAAA`;
    expect((await createUpload(node.base, forged, bytes.length, meta())).body.code).toBe('token_invalid');
    expect((await api('POST', `/api/files/${crypto.randomUUID()}/link`, 'Room a b')).body.code).toBe(
      'token_invalid',
    );
    // An access token sent as a grant is no grant.
    const token = await node.tokenFor(s.patientId, 'patient');
    expect((await createUpload(node.base, `Room ${token}`, bytes.length, meta())).status).toBe(401);
  });

  it('keeps another uploader out of an upload, and a described file of another conversation unknown', async () => {
    const s = node.seed;
    const up = await createUpload(node.base, await grant(patient()), bytes.length, meta());
    expect(up.status).toBe(201);
    const guest = await grant(guestActor(s.guestId, s.appointmentId));
    expect((await patch(node.base, guest, up.id!, 0, bytes)).body.code).toBe('upload_not_found');
    const inCare = await createUpload(
      node.base,
      await node.tokenFor(s.doctorId, 'doctor'),
      bytes.length,
      meta(care),
    );
    expect(inCare.status).toBe(201);
    expect((await api('GET', `/api/files/${inCare.id}`, guest)).body.code).toBe('not_found');
    expect((await api('GET', `/api/files/not-an-id`, guest)).status).toBe(400);
  });
});
