import { Server } from '@tus/server';
import { randomUUID } from 'node:crypto';
import type { Readable } from 'node:stream';
import { ProblemError, problemBody } from '../api/errors.ts';
import { PROBLEM, type ProblemCode } from '../api/problem-codes.ts';
import type { Actor } from '../policy/types.ts';
import { currentContext } from '../request-context.ts';
import type { DownloadLinks } from './download-links.ts';
import { invalid } from './download-links.ts';
import type { FileActor } from './file-actor.ts';
import { FileRepository, type FileDeps } from './file-repository.ts';
import type { RoomAdmissions } from './room-admissions.ts';
import type { RoomFileGrants } from './room-file-grants.ts';
import { EncryptingUploadStore, uploadCall, type UploadCall } from './tus-store.ts';

export const UPLOADS_PATH = '/api/files/uploads';

/** tus answers these statuses itself (bad headers, wrong offset...): each gets our problem code. */
const TUS_STATUS_CODES: Record<number, ProblemCode> = {
  400: PROBLEM.uploadMalformed,
  403: PROBLEM.uploadMalformed,
  404: PROBLEM.uploadNotFound,
  409: PROBLEM.uploadOffsetMismatch,
  410: PROBLEM.uploadNotFound,
  412: PROBLEM.uploadMalformed,
  413: PROBLEM.fileTooLarge,
  415: PROBLEM.uploadMalformed,
};

/**
 * Files as the routes see them (services.files): the tus 1.0 server over our encrypting store, a
 * repository per actor, and downloads by link. `sessionActor` turns a link's session back into
 * an actor (or throws when the session has ended).
 */
export class Files {
  readonly #tus: Server;

  constructor(
    private readonly deps: FileDeps & {
      links: DownloadLinks;
      grants: RoomFileGrants;
      admissions: RoomAdmissions;
      sessionActor: (sessionId: string) => Promise<Actor>;
      logError: (err: unknown) => void;
    },
  ) {
    // The default in-process locker serialises one node's requests per upload; across nodes the
    // repository's conditional update refuses the second of two concurrent PATCHes.
    this.#tus = new Server({
      path: UPLOADS_PATH,
      datastore: new EncryptingUploadStore(),
      relativeLocation: true,
      namingFunction: () => randomUUID(),
      onResponseError: (_req, err) => this.#problem(err),
    });
  }

  /** Room file grants: issued by the room tier to admitted participants, checked by the routes. */
  get grants(): RoomFileGrants {
    return this.deps.grants;
  }

  /** The admissions room file grants name: opened and ended by the room tier. */
  get admissions(): RoomAdmissions {
    return this.deps.admissions;
  }

  forActor(actor: Actor): FileRepository {
    return new FileRepository(this.deps, { kind: 'account', actor });
  }

  /** Files as an account or as a room participant (room file grant) reaches them. */
  forFileActor(actor: FileActor): FileRepository {
    return new FileRepository(this.deps, actor);
  }

  /** One tus request (POST, HEAD, PATCH, OPTIONS) of an authenticated actor; errors are problem+json. */
  async handleUpload(actor: FileActor, request: Request): Promise<Response> {
    const call: UploadCall = { repo: this.forFileActor(actor) };
    const response = await uploadCall.run(call, () => this.#tus.handleWeb(request));
    await call.pending;
    if (response.status < 400) return response;
    // tus answers some refusals itself (header checks, as text), and may report our store's
    // refusal as an aborted request: every error leaves as problem+json with our code.
    const text = await response.text();
    const problem = call.refusal
      ? this.#problem(call.refusal)
      : text.startsWith('{')
        ? { status_code: response.status, body: text }
        : this.#problem({ status_code: response.status, body: text });
    const headers = new Headers(response.headers);
    headers.set('content-type', 'application/problem+json');
    headers.delete('content-length');
    return new Response(problem.body, { status: problem.status_code, headers });
  }

  /** The file behind a link: the link's user (the bearer's, if one is sent, must be the same) and a live session. */
  async download(
    fileId: string,
    token: unknown,
    bearer: Actor | undefined,
  ): Promise<{ stream: Readable; type: string; size: number; name: string }> {
    const claims = await this.deps.links.verify(token, fileId);
    if ('room' in claims) {
      const { who } = claims.room;
      if (bearer && (who.kind === 'guest' || bearer.userId !== who.actor.userId))
        throw invalid('the link belongs to another user');
      // Decided again as the room speaker: a guest whose invitation ended is refused.
      return this.forFileActor(claims.room).download(fileId);
    }
    if (bearer && bearer.userId !== claims.userId) throw invalid('the link belongs to another user');
    let actor: Actor;
    try {
      actor = await this.deps.sessionActor(claims.sessionId);
    } catch {
      throw invalid('the session that asked for the link has ended');
    }
    if (actor.userId !== claims.userId) throw invalid('the link is not valid');
    if (claims.onBehalfOf) actor = { ...actor, onBehalfOf: claims.onBehalfOf };
    return this.forActor(actor).download(fileId);
  }

  #problem(err: unknown): { status_code: number; body: string } {
    let p: ProblemError;
    if (err instanceof ProblemError) p = err;
    else {
      const tus = err as { status_code?: number; body?: string };
      const code = tus?.status_code ? TUS_STATUS_CODES[tus.status_code] : undefined;
      if (code) p = new ProblemError(tus.status_code as 400, code, (tus.body ?? '').trim() || code);
      else {
        this.deps.logError(err);
        p = new ProblemError(500, PROBLEM.internal, 'internal error');
      }
    }
    const body = problemBody(p.status, p.code, p.message, p.errors, currentContext()?.requestId);
    return { status_code: p.status, body: JSON.stringify(body) };
  }
}
