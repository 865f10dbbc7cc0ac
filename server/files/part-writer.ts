import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ProblemError } from '../api/errors.ts';
import { PROBLEM } from '../api/problem-codes.ts';
import type { FileCipher } from '../crypto/index.ts';
import type { BlobStore } from '../storage/blob-store.ts';
import { bytesMatchDeclaredType, SNIFF_BYTES } from './sniff.ts';

/** The data key scope of a file part: the conversation's, like its messages. */
export const partRecordId = (fileId: string, idx: number) => `file:${fileId}:part:${idx}`;

export type PartPlan = {
  fileId: string;
  idx: number;
  scope: string;
  /** Bytes the upload still lacks: a body past this is refused (tus also limits it). */
  remaining: number;
  /** For the first part: the declared type to check the leading bytes against. */
  sniff?: { declaredType: string; window: number };
};

export type WrittenPart = { blobId: string; plainSize: number } | { blobId: undefined; plainSize: 0 };

/**
 * Encrypts one PATCH body, as it streams, into one new blob: its own secretstream (header, full
 * chunks, a short final chunk), so nothing has to continue a stream across requests.
 *
 * Why one stream per PATCH: a secretstream's state lives in memory and changes after every chunk,
 * and the blob store keeps immutable objects (an S3 object cannot be appended to). Resuming one
 * stream after a dropped connection would need its state persisted, which libsodium does not
 * offer, or the ciphertext re-read from the start. Instead each request's bytes end in their own
 * FINAL chunk, so the partial tail chunk of a request is simply that part's short final chunk:
 * no plaintext is ever parked on disk and every acknowledged byte is encrypted and durable. The
 * cost is 40 bytes of header per part; the order of parts is bound by the associated data (file
 * id and part index) and their number and sizes by the database, so dropping, reordering or
 * cutting parts is detected.
 *
 * A dropped connection keeps what arrived (tus resumes from there: HEAD gives the byte-exact
 * offset). Bad bytes (type mismatch, a body past the declared length) keep nothing: the put is
 * aborted and the store holds no blob.
 */
export async function writePart(
  plan: PartPlan,
  body: AsyncIterable<Uint8Array>,
  deps: { cipher: FileCipher; blobs: BlobStore },
): Promise<WrittenPart> {
  const blobId = `${plan.fileId.replace(/-/g, '')}p${plan.idx}r${randomBytes(6).toString('hex')}`;
  let received = 0;
  const guarded = async function* (): AsyncGenerator<Uint8Array> {
    const head: Uint8Array[] = [];
    let headBytes = 0;
    let sniffed = !plan.sniff;
    try {
      for await (const chunk of body) {
        received += chunk.byteLength;
        if (received > plan.remaining)
          throw new ProblemError(413, PROBLEM.fileTooLarge, 'the body goes past the declared Upload-Length');
        if (!sniffed) {
          head.push(chunk);
          headBytes += chunk.byteLength;
          if (headBytes >= plan.sniff!.window) {
            await checkType(plan.sniff!.declaredType, Buffer.concat(head).subarray(0, plan.sniff!.window));
            sniffed = true;
          }
        }
        yield chunk;
      }
    } catch (err) {
      // Our own refusals and tus's size limit keep nothing; anything else is the client's
      // connection ending early, and what arrived is kept.
      if (err instanceof ProblemError || isSizeLimit(err)) throw err;
    }
    // A first part too short to check its type is not kept (the client sends it again).
    if (!sniffed) throw new PartTooShort();
  };
  const sealed = await deps.cipher.encryptStream(plan.scope, partRecordId(plan.fileId, plan.idx));
  const feeding = pipeline(Readable.from(guarded()), sealed);
  const putting = deps.blobs.put(blobId, sealed);
  const [fed, put] = await Promise.allSettled([feeding, putting]);
  if (fed.status === 'rejected' || put.status === 'rejected') {
    await deps.blobs.delete(blobId).catch(() => false);
    const err = fed.status === 'rejected' ? fed.reason : (put as PromiseRejectedResult).reason;
    if (err instanceof PartTooShort) return { blobId: undefined, plainSize: 0 };
    throw err;
  }
  if (received === 0) {
    await deps.blobs.delete(blobId);
    return { blobId: undefined, plainSize: 0 };
  }
  return { blobId, plainSize: received };
}

async function checkType(declared: string, head: Uint8Array): Promise<void> {
  if (!(await bytesMatchDeclaredType(declared, head)))
    throw new ProblemError(
      415,
      PROBLEM.fileTypeRefused,
      `the bytes are not of the declared type ${declared}`,
    );
}

const isSizeLimit = (err: unknown) => (err as { status_code?: number } | null)?.status_code === 413;

class PartTooShort extends Error {}

export const sniffWindow = (size: number) => Math.min(SNIFF_BYTES, size);
