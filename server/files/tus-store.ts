import { AsyncLocalStorage } from 'node:async_hooks';
import type { Readable } from 'node:stream';
import { DataStore, Upload } from '@tus/utils';
import { ProblemError } from '../api/errors.ts';
import { PROBLEM } from '../api/problem-codes.ts';
import type { FileRepository } from './file-repository.ts';

/** The repository of the request being handled: tus calls the store without the request, so it travels here. */
export const uploadCall = new AsyncLocalStorage<UploadCall>();

/** One tus request: its actor's repository, and our own refusal if the store made one (tus may report it otherwise). */
export type UploadCall = { repo: FileRepository; refusal?: ProblemError; pending?: Promise<unknown> };

const call = (): UploadCall => {
  const c = uploadCall.getStore();
  if (!c) throw new Error('tus store used outside an authenticated upload request');
  return c;
};
const repository = () => call().repo;

/**
 * The store's work, tracked: tus may answer (an aborted pipeline) before a refused write has
 * finished cleaning up, so the route waits for it and reports our refusal, not tus's guess.
 */
function remembered<T>(work: Promise<T>): Promise<T> {
  const c = call();
  const tracked = work.catch((err: unknown) => {
    if (err instanceof ProblemError) c.refusal = err;
    throw err;
  });
  c.pending = tracked.catch(() => {});
  return tracked;
}

/**
 * The tus DataStore over our files: every call goes to the actor-bound FileRepository of the
 * current request, which decides, encrypts into the blob store and audits. Only the core protocol
 * and creation: no deferred length, no termination (a file, once sent, stays for the record), no
 * concatenation.
 */
export class EncryptingUploadStore extends DataStore {
  constructor() {
    super();
    this.extensions = ['creation'];
  }

  override async create(upload: Upload): Promise<Upload> {
    await remembered(repository().createUpload(upload.id, upload.size, upload.metadata ?? {}));
    return new Upload({ ...upload, offset: 0, creation_date: new Date().toISOString() });
  }

  override async getUpload(id: string): Promise<Upload> {
    const state = await remembered(repository().upload(id));
    return new Upload({
      id: state.id,
      size: state.size,
      offset: state.offset,
      creation_date: state.createdAt.toISOString(),
    });
  }

  override write(stream: Readable, id: string, offset: number): Promise<number> {
    return remembered(repository().write(id, offset, stream));
  }

  override async remove(): Promise<void> {
    throw new ProblemError(400, PROBLEM.uploadMalformed, 'uploads cannot be terminated');
  }
}
