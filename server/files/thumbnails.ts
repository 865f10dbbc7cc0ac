import { eq } from 'drizzle-orm';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import sharp from 'sharp';
import type { Db } from '../../db/client.ts';
import { fileParts, files } from '../../db/schema/index.ts';
import type { FileCipher } from '../crypto/index.ts';
import { conversationScope } from '../messaging/scope.ts';
import type { BlobStore } from '../storage/blob-store.ts';
import { openDownload } from './download-stream.ts';

const THUMBNAIL_TYPES = new Set(['image/jpeg', 'image/png', 'image/webp', 'image/gif']);
/** Larger images get no thumbnail: decoding holds the whole bitmap in memory. */
const MAX_THUMBNAIL_SOURCE_BYTES = 32 * 1024 * 1024;
const MAX_INPUT_PIXELS = 40_000_000;
export const THUMBNAIL_EDGE = 256;
export const thumbnailRecordId = (fileId: string) => `file:${fileId}:thumbnail`;

/**
 * A small WebP preview of an uploaded image, encrypted like the file (the conversation's key, its
 * own record id) into its own blob. Made once the upload completes; a failure (an image sharp
 * cannot decode) leaves the file without a thumbnail and is logged by id only.
 */
export class Thumbnailer {
  constructor(
    private readonly deps: {
      db: Db;
      blobs: BlobStore;
      cipher: FileCipher;
      warn: (fields: Record<string, unknown>, message: string) => void;
    },
  ) {}

  /** The decrypted thumbnail of a file that has one (WebP bytes), or null. */
  async open(file: { id: string; conversationId: string; thumbnailBlobId: string | null }) {
    if (!file.thumbnailBlobId) return null;
    const source = await this.deps.blobs.get(file.thumbnailBlobId);
    const decrypt = this.deps.cipher.decryptStream(
      conversationScope(file.conversationId),
      thumbnailRecordId(file.id),
    );
    const chunks: Uint8Array[] = [];
    await pipeline(source, decrypt, async (plain: AsyncIterable<Uint8Array>) => {
      for await (const chunk of plain) chunks.push(chunk);
    });
    return Buffer.concat(chunks);
  }

  async make(file: {
    id: string;
    conversationId: string;
    size: number;
    declaredType: string;
  }): Promise<void> {
    if (!THUMBNAIL_TYPES.has(file.declaredType) || file.size > MAX_THUMBNAIL_SOURCE_BYTES) return;
    const blobId = `${file.id.replace(/-/g, '')}t${randomBytes(6).toString('hex')}`;
    try {
      const parts = await this.deps.db.select().from(fileParts).where(eq(fileParts.fileId, file.id));
      const { stream } = await openDownload(file, parts, this.deps);
      const resize = sharp({ limitInputPixels: MAX_INPUT_PIXELS, failOn: 'error' })
        .rotate()
        .resize(THUMBNAIL_EDGE, THUMBNAIL_EDGE, { fit: 'inside', withoutEnlargement: true })
        .webp({ quality: 70 });
      stream.on('error', (err) => resize.destroy(err));
      const webp = await stream.pipe(resize).toBuffer();
      const sealed = await this.deps.cipher.encryptStream(
        conversationScope(file.conversationId),
        thumbnailRecordId(file.id),
      );
      await Promise.all([this.deps.blobs.put(blobId, sealed), pipeline(Readable.from([webp]), sealed)]);
      await this.deps.db.update(files).set({ thumbnailBlobId: blobId }).where(eq(files.id, file.id));
    } catch (err) {
      await this.deps.blobs.delete(blobId).catch(() => false);
      this.deps.warn({ fileId: file.id, err: { message: (err as Error)?.message } }, 'thumbnail not made');
    }
  }
}
