import type { RoomFileGrant } from '../../signaling/protocol/index.ts';
import {
  FileApi,
  FileError,
  FileTransfer,
  fileMessageBody,
  type FileCredentials,
  type FileInfo,
} from './file-transfer.ts';
import { TypedEvents } from './typed-events.ts';

/** A grant is asked for again when less than this is left of it (a tus request must start within it). */
const GRANT_MARGIN_MS = 60_000;

/** The room page's credentials: a room file grant from the room socket, renewed before it runs out. */
export function roomFileCredentials(request: () => Promise<RoomFileGrant>): FileCredentials {
  let grant: Promise<RoomFileGrant> | undefined;
  return {
    async authorization() {
      const held = grant && (await grant.catch(() => undefined));
      if (held && Date.parse(held.expiresAt) - Date.now() >= GRANT_MARGIN_MS) return `Room ${held.token}`;
      grant = request();
      return `Room ${(await grant).token}`;
    },
  };
}

/** The threads page's credentials: the access token it holds in memory. */
export const accountFileCredentials = (token: () => string): FileCredentials => ({
  authorization: async () => `Bearer ${token()}`,
});

export type ChatFilesEvents = { changed: () => void };

/**
 * Files in one conversation as a chat screen needs them: my uploads in flight (progress, cancel,
 * a refusal to show), each finished upload sent as a file message, and what each file message
 * shows (asked of the server once per file: the name and size are the server's, not the sender's).
 */
export class ChatFiles extends TypedEvents<ChatFilesEvents> {
  readonly api: FileApi;
  readonly #transfers = new Map<string, FileTransfer>();
  readonly #info = new Map<string, FileInfo | FileError | 'loading'>();

  constructor(
    readonly credentials: FileCredentials,
    private readonly target: { conversationId: () => string | undefined; send: (body: string) => void },
  ) {
    super();
    this.api = new FileApi(credentials);
  }

  /** Uploads in flight and failed ones (until dismissed), oldest first. */
  get transfers(): FileTransfer[] {
    return [...this.#transfers.values()];
  }

  send(file: File): FileTransfer | undefined {
    const conversationId = this.target.conversationId();
    if (!conversationId) return undefined;
    const transfer = new FileTransfer(file, conversationId, this.credentials);
    this.#transfers.set(transfer.id, transfer);
    transfer.on('progress', () => this.emit('changed'));
    transfer.on('failed', () => this.emit('changed'));
    transfer.on('done', (fileId) => {
      this.#transfers.delete(transfer.id);
      this.target.send(fileMessageBody(fileId));
      this.emit('changed');
    });
    this.emit('changed');
    void transfer.start().catch((err: Error) => {
      transfer.state = 'failed';
      transfer.error = new FileError('network_error', 0, err.message);
      this.emit('changed');
    });
    return transfer;
  }

  async cancel(transferId: string) {
    const transfer = this.#transfers.get(transferId);
    this.#transfers.delete(transferId);
    this.emit('changed');
    await transfer?.cancel();
  }

  dismiss(transferId: string) {
    this.#transfers.delete(transferId);
    this.emit('changed');
  }

  /** What a file message shows; undefined while it is being asked for. */
  info(fileId: string): FileInfo | FileError | undefined {
    const known = this.#info.get(fileId);
    if (known === undefined) {
      this.#info.set(fileId, 'loading');
      this.api.describe(fileId).then(
        (info) => this.#settle(fileId, info),
        (err: unknown) =>
          this.#settle(
            fileId,
            err instanceof FileError ? err : new FileError('network_error', 0, String(err)),
          ),
      );
      return undefined;
    }
    return known === 'loading' ? undefined : known;
  }

  #settle(fileId: string, value: FileInfo | FileError) {
    this.#info.set(fileId, value);
    this.emit('changed');
  }
}
