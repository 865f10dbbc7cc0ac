import { and, asc, eq } from 'drizzle-orm';
import type { Readable } from 'node:stream';
import type { Db } from '../../db/client.ts';
import { clinicFileSettings, fileParts, files } from '../../db/schema/index.ts';
import { ProblemError } from '../api/errors.ts';
import { PROBLEM } from '../api/problem-codes.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import type { FilesConfig } from '../config.ts';
import type { FileCipher, MessageSealer } from '../crypto/index.ts';
import { conversationScope } from '../messaging/scope.ts';
import type { BlobStore } from '../storage/blob-store.ts';
import type { ConversationAccess } from './conversation-access.ts';
import type { DownloadLinks } from './download-links.ts';
import { fileActorId, type FileActor } from './file-actor.ts';
import { openDownload, type Download } from './download-stream.ts';
import { sniffWindow, writePart } from './part-writer.ts';
import type { Thumbnailer } from './thumbnails.ts';

export type FileDeps = {
  db: Db;
  audit: AuditLog;
  access: ConversationAccess;
  cipher: FileCipher;
  sealer: MessageSealer;
  blobs: BlobStore;
  links: DownloadLinks;
  thumbnails: Thumbnailer;
  config: FilesConfig;
};

type FileRow = typeof files.$inferSelect;
export type UploadState = { id: string; size: number; offset: number; createdAt: Date };
const ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const MEDIA_TYPE = /^[a-z0-9][a-z0-9!#$&^_.+-]{0,126}\/[a-z0-9][a-z0-9!#$&^_.+-]{0,126}$/;

/**
 * Files as one actor reaches them. Every operation decides (conversation membership, through
 * ConversationAccess) and writes its rows with its audit entries in ONE transaction; a refusal is
 * audited. File names are sealed, contents encrypted (FileCipher) under the conversation's key.
 */
export class FileRepository {
  constructor(
    private readonly deps: FileDeps,
    readonly actor: FileActor,
  ) {}

  /** A new tus upload into a conversation the actor may post in, within the clinic's limits. */
  async createUpload(id: string, size: number | undefined, meta: Record<string, string | null | undefined>) {
    const conversationId = meta.conversationId ?? '';
    const name = meta.filename ?? '';
    const type = (meta.filetype ?? '').toLowerCase();
    if (!name || name.length > 255 || /[\x00-\x1f/\\]/.test(name))
      throw malformed('metadata "filename" is required: 1-255 characters, no control characters or slashes');
    if (!MEDIA_TYPE.test(type)) throw malformed('metadata "filetype" must be a media type');
    if (size === undefined || !Number.isSafeInteger(size) || size < 1)
      throw malformed('Upload-Length is required and at least 1 (deferred lengths are not accepted)');
    const { conversation, entry } = await this.deps.access.decide(
      this.actor,
      conversationId,
      'post',
      'file.upload_created',
    );
    const limits = await this.#limits(conversation.clinicId);
    if (size > limits.maxBytes)
      throw new ProblemError(413, PROBLEM.fileTooLarge, `files are limited to ${limits.maxBytes} bytes here`);
    if (!limits.allowedTypes.includes(type))
      throw new ProblemError(415, PROBLEM.fileTypeRefused, `${type} files are not accepted here`);
    const sealedName = await this.deps.sealer.seal(conversationScope(conversation.id), `file:${id}`, name);
    await this.deps.db.transaction(async (tx) => {
      await tx.insert(files).values({
        id,
        conversationId: conversation.id,
        clinicId: conversation.clinicId,
        patientId: conversation.patientId,
        uploaderId: fileActorId(this.actor),
        sealedName,
        declaredType: type,
        size,
        forPatientRecord: conversation.kind === 'room',
      });
      await this.deps.audit.appendWithin(tx, [entry('file.upload_created', id)]);
    });
  }

  /** The upload's state for tus (HEAD, and before each PATCH): only to its uploader. */
  async upload(id: string): Promise<UploadState> {
    const row = await this.#ownUpload(id);
    return { id: row.id, size: row.size, offset: row.received, createdAt: row.createdAt };
  }

  /**
   * One PATCH body at `offset`: encrypted into a new part, then the part, the new offset and the
   * audit entries commit together, only if no other request moved the upload meanwhile (two nodes,
   * two connections of one client). Membership is decided again: it may end mid-upload.
   */
  async write(id: string, offset: number, body: AsyncIterable<Uint8Array>): Promise<number> {
    const row = await this.#ownUpload(id);
    if (row.status === 'complete')
      throw new ProblemError(409, PROBLEM.uploadComplete, 'the upload is complete already');
    if (offset !== row.received) throw offsetMismatch(row.received);
    const { entry } = await this.deps.access.decide(
      this.actor,
      row.conversationId,
      'post',
      'file.upload_written',
    );
    const part = await writePart(
      {
        fileId: id,
        idx: row.partCount,
        scope: conversationScope(row.conversationId),
        remaining: row.size - row.received,
        ...(row.partCount === 0
          ? { sniff: { declaredType: row.declaredType, window: sniffWindow(row.size) } }
          : {}),
      },
      body,
      this.deps,
    );
    if (!part.blobId) return row.received;
    const received = row.received + part.plainSize;
    const complete = received === row.size;
    try {
      await this.deps.db.transaction(async (tx) => {
        const moved = await tx
          .update(files)
          .set({
            received,
            partCount: row.partCount + 1,
            ...(complete ? { status: 'complete' as const, completedAt: new Date() } : {}),
          })
          .where(and(eq(files.id, id), eq(files.received, row.received), eq(files.status, 'uploading')))
          .returning({ id: files.id });
        if (!moved.length) throw offsetMismatch(undefined);
        await tx.insert(fileParts).values({
          fileId: id,
          idx: row.partCount,
          plainOffset: row.received,
          plainSize: part.plainSize,
          blobId: part.blobId!,
        });
        await this.deps.audit.appendWithin(tx, [
          entry('file.upload_written', id),
          ...(complete ? [entry('file.upload_completed', id)] : []),
        ]);
      });
    } catch (err) {
      await this.deps.blobs.delete(part.blobId).catch(() => false);
      throw err;
    }
    if (complete) await this.deps.thumbnails.make(row);
    return received;
  }

  /** A short-lived link to a complete file of a conversation the actor may read. */
  async link(fileId: string) {
    const row = await this.#file(fileId);
    const { entry } = await this.deps.access.decide(
      this.actor,
      row.conversationId,
      'read',
      'file.link_issued',
    );
    if (row.status !== 'complete')
      throw new ProblemError(409, PROBLEM.fileIncomplete, 'the file is not completely uploaded yet');
    const a = this.actor;
    const { token, expiresAt } =
      a.kind === 'room'
        ? await this.deps.links.mintRoom({ fileId, room: a })
        : await this.deps.links.mint({
            userId: a.actor.userId,
            sessionId: a.actor.sessionId,
            fileId,
            ...(a.actor.onBehalfOf ? { onBehalfOf: a.actor.onBehalfOf } : {}),
          });
    await this.deps.audit.append(entry('file.link_issued', fileId));
    return {
      fileId,
      name: await this.#name(row),
      type: row.declaredType,
      size: row.size,
      url: `/api/files/${fileId}/content?token=${token}`,
      expiresAt: expiresAt.toISOString(),
    };
  }

  /**
   * What a chat message shows of a file: name, type, size, whether it is complete, and its
   * thumbnail inline (a data: URL: the pages allow images from 'self' and data: only).
   */
  async describe(fileId: string) {
    const row = await this.#file(fileId);
    const { entry } = await this.deps.access.decide(this.actor, row.conversationId, 'read', 'file.viewed');
    const thumbnail = await this.deps.thumbnails.open(row).catch(() => null);
    await this.deps.audit.append(entry('file.viewed', fileId));
    return {
      fileId,
      name: await this.#name(row),
      type: row.declaredType,
      size: row.size,
      complete: row.status === 'complete',
      thumbnail: thumbnail ? `data:image/webp;base64,${thumbnail.toString('base64')}` : null,
    };
  }

  /** The plaintext of a complete file for a link holder (already verified to be this actor). */
  async download(fileId: string): Promise<Download & { name: string }> {
    const row = await this.#file(fileId);
    const { entry } = await this.deps.access.decide(
      this.actor,
      row.conversationId,
      'read',
      'file.downloaded',
    );
    if (row.status !== 'complete')
      throw new ProblemError(409, PROBLEM.fileIncomplete, 'the file is not completely uploaded yet');
    const parts = await this.deps.db
      .select()
      .from(fileParts)
      .where(eq(fileParts.fileId, fileId))
      .orderBy(asc(fileParts.idx));
    const download = await openDownload(row, parts, this.deps);
    await this.deps.audit.append(entry('file.downloaded', fileId));
    return { ...download, name: await this.#name(row) };
  }

  async #file(id: string): Promise<FileRow> {
    if (typeof id !== 'string' || !ID.test(id)) throw notFound();
    const [row] = await this.deps.db.select().from(files).where(eq(files.id, id));
    if (!row) throw notFound();
    return row;
  }

  async #ownUpload(id: string): Promise<FileRow> {
    if (typeof id !== 'string' || !ID.test(id))
      throw new ProblemError(404, PROBLEM.uploadNotFound, 'no such upload');
    const [row] = await this.deps.db.select().from(files).where(eq(files.id, id));
    // Another user's upload is as unknown as a missing one.
    if (!row || row.uploaderId !== fileActorId(this.actor))
      throw new ProblemError(404, PROBLEM.uploadNotFound, 'no such upload');
    return row;
  }

  #name(row: FileRow): Promise<string> {
    return this.deps.sealer.openText(conversationScope(row.conversationId), `file:${row.id}`, row.sealedName);
  }

  async #limits(clinicId: string) {
    const [own] = await this.deps.db
      .select()
      .from(clinicFileSettings)
      .where(eq(clinicFileSettings.clinicId, clinicId));
    return {
      maxBytes: own?.maxBytes ?? this.deps.config.maxBytes,
      allowedTypes: own?.allowedTypes
        ? own.allowedTypes.split(',').map((t) => t.trim().toLowerCase())
        : this.deps.config.allowedTypes,
    };
  }
}

const malformed = (detail: string) => new ProblemError(400, PROBLEM.uploadMalformed, detail);
const notFound = () => new ProblemError(404, PROBLEM.notFound, 'no such file');
const offsetMismatch = (at: number | undefined) =>
  new ProblemError(
    409,
    PROBLEM.uploadOffsetMismatch,
    at === undefined ? 'the upload moved meanwhile: HEAD it and continue' : `the upload stands at ${at}`,
  );

export type { Readable };
