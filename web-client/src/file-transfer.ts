import { Upload, type DetailedError } from 'tus-js-client';
import { TypedEvents } from './typed-events.ts';

/**
 * How a page proves who it is to the file routes: a room page asks the room socket for a room
 * file grant (`Room <grant>`), the threads page sends its access token (`Bearer <token>`).
 */
export interface FileCredentials {
  authorization(): Promise<string>;
}

// A file message's body is the protocol's: the server checks the file it names before storing it.
export { fileIdOf, fileMessageBody } from '../../signaling/protocol/file-message.ts';

/** A file as a message shows it (GET /api/files/{id}). */
export type FileInfo = {
  fileId: string;
  name: string;
  type: string;
  size: number;
  complete: boolean;
  /** A data: URL of a small WebP preview (images only). */
  thumbnail: string | null;
};

/** A refusal of the file routes (problem+json), with its code. */
export class FileError extends Error {
  constructor(
    readonly code: string,
    readonly status: number,
    detail: string,
  ) {
    super(detail);
  }
}

async function problem(res: Response): Promise<FileError> {
  const body = (await res.json().catch(() => ({}))) as { code?: string; detail?: string };
  return new FileError(body.code ?? 'http_error', res.status, body.detail ?? res.statusText);
}

/** The file routes as one page reaches them. */
export class FileApi {
  constructor(
    readonly credentials: FileCredentials,
    private readonly base = '',
  ) {}

  async describe(fileId: string): Promise<FileInfo> {
    const res = await fetch(`${this.base}/api/files/${fileId}`, {
      headers: { authorization: await this.credentials.authorization() },
    });
    if (!res.ok) throw await problem(res);
    return (await res.json()) as FileInfo;
  }

  /** A fresh short-lived download link (relative URL), asked for when the person clicks. */
  async link(fileId: string): Promise<{ url: string; name: string }> {
    const res = await fetch(`${this.base}/api/files/${fileId}/link`, {
      method: 'POST',
      headers: { authorization: await this.credentials.authorization() },
    });
    if (!res.ok) throw await problem(res);
    return (await res.json()) as { url: string; name: string };
  }
}

export type TransferEvents = {
  /** Bytes the server has acknowledged so far changed: redraw the progress bar. */
  progress: (sent: number, total: number) => void;
  /** Upload complete: the file's id, to be sent as a file message. */
  done: (fileId: string) => void;
  failed: (err: FileError) => void;
};

/** Retries after a dropped connection: tus asks the server where it stands (HEAD) and continues there. */
const RETRY_DELAYS = [0, 1000, 3000, 5000, 10000, 20000];
/** One PATCH per 8 MiB: each is stored as its own encrypted part, and a drop loses at most the one in flight. */
const CHUNK_BYTES = 8 * 1024 * 1024;

/** The resume key of a file in a conversation: a hash, so no file name sits in the browser's storage. */
async function fingerprintOf(file: File, conversationId: string): Promise<string> {
  const text = `${conversationId}|${file.name}|${file.size}|${file.lastModified}`;
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text));
  return `carecall-file-${[...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('')}`;
}

/**
 * One file on its way into a conversation, over tus (tus-js-client): resumable after a drop, in
 * chunks, with progress; a page reload finds the unfinished upload again by its fingerprint.
 * Cancel stops it (the server keeps what arrived: uploads cannot be terminated, by design).
 */
export class FileTransfer extends TypedEvents<TransferEvents> {
  readonly id = crypto.randomUUID();
  sent = 0;
  state: 'uploading' | 'done' | 'failed' | 'cancelled' = 'uploading';
  error: FileError | undefined;
  readonly #upload: Upload;

  constructor(
    readonly file: File,
    conversationId: string,
    credentials: FileCredentials,
  ) {
    super();
    this.#upload = new Upload(file, {
      endpoint: '/api/files/uploads',
      chunkSize: CHUNK_BYTES,
      retryDelays: RETRY_DELAYS,
      metadata: {
        conversationId,
        filename: file.name,
        // The server checks the bytes against this; an unknown type is refused with a clear message.
        filetype: file.type || 'application/octet-stream',
      },
      fingerprint: (f) => fingerprintOf(f as File, conversationId),
      storeFingerprintForResuming: true,
      removeFingerprintOnSuccess: true,
      onBeforeRequest: async (req) => req.setHeader('Authorization', await credentials.authorization()),
      onProgress: (sent) => {
        this.sent = sent;
        this.emit('progress', sent, file.size);
      },
      onSuccess: () => {
        this.state = 'done';
        const fileId = this.#upload.url?.split('/').pop() ?? '';
        this.emit('done', fileId);
      },
      onError: (err) => {
        if (this.state === 'cancelled') return;
        this.state = 'failed';
        this.error = refusalOf(err);
        this.emit('failed', this.error);
      },
    });
  }

  async start() {
    const previous = await this.#upload.findPreviousUploads().catch(() => []);
    if (previous[0]) this.#upload.resumeFromPreviousUpload(previous[0]);
    this.#upload.start();
  }

  async cancel() {
    this.state = 'cancelled';
    await this.#upload.abort(false);
  }
}

function refusalOf(err: Error | DetailedError): FileError {
  const res = (err as DetailedError).originalResponse;
  if (res) {
    try {
      const body = JSON.parse(res.getBody()) as { code?: string; detail?: string };
      if (body.code) return new FileError(body.code, res.getStatus(), body.detail ?? '');
    } catch {
      // Not problem+json (a proxy's page): fall through to the status.
    }
    return new FileError('http_error', res.getStatus(), err.message);
  }
  return new FileError('network_error', 0, err.message);
}
