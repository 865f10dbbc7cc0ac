import { Hono, type Context } from 'hono';
import { createMiddleware } from 'hono/factory';
import type { BlockList } from 'node:net';
import { Readable } from 'node:stream';
import type { Logger } from 'pino';
import { ProblemError } from '../api/errors.ts';
import { requestContext, type ApiEnv } from '../api/middleware.ts';
import { PROBLEM } from '../api/problem-codes.ts';
import { parseParams } from '../api/validation.ts';
import { authenticate } from '../identity/authenticate.ts';
import type { Identity } from '../identity/create-identity.ts';
import type { FileActor } from './file-actor.ts';
import type { Files } from './files.ts';
import { fileParam } from './schemas.ts';

type FilesEnv = { Bindings: ApiEnv['Bindings']; Variables: ApiEnv['Variables'] & { fileActor: FileActor } };

/**
 * An account's access token (`Bearer`) or a room participant's file grant (`Room`, from the room
 * socket's files.grant): the grant reaches its room's conversation only.
 */
function fileCredential(identity: Identity, files: Files) {
  const account = authenticate(identity);
  return createMiddleware<FilesEnv>(async (c, next) => {
    if (c.get('fileActor')) return next();
    const header = c.req.header('authorization') ?? '';
    if (header.startsWith('Room ')) {
      const match = /^Room ([A-Za-z0-9._-]{1,4000})$/.exec(header);
      if (!match) throw new ProblemError(401, PROBLEM.tokenInvalid, 'malformed Authorization header');
      c.set('fileActor', await files.grants.verify(match[1]!));
      return next();
    }
    // The account middleware only reads the header and sets `actor`, which FilesEnv has too.
    return account(c as unknown as Context<ApiEnv>, async () => {
      c.set('fileActor', { kind: 'account', actor: c.var.actor });
      await next();
    });
  });
}

/**
 * Files over HTTP, mounted ahead of the API's body limit (uploads are streamed, never buffered):
 * tus 1.0 under /uploads, a file's description, a download link per file, and the download
 * itself, which a browser can open without an Authorization header (the link is the credential,
 * bound to its user or room participant).
 */
export function fileRoutes(identity: Identity, files: Files, logger: Logger, trustedProxies?: BlockList) {
  const credential = fileCredential(identity, files);
  const uploads = new Hono<FilesEnv>()
    .use(credential)
    .all('/', (c) => files.handleUpload(c.var.fileActor, c.req.raw))
    .all('/:uploadId', (c) => files.handleUpload(c.var.fileActor, c.req.raw));
  return new Hono<FilesEnv>()
    .use(requestContext(logger, trustedProxies))
    .route('/uploads', uploads)
    .get('/:fileId', credential, async (c) => {
      const { fileId } = parseParams(c, fileParam);
      c.header('cache-control', 'private, no-store');
      return c.json(await files.forFileActor(c.var.fileActor).describe(fileId));
    })
    .post('/:fileId/link', credential, async (c) => {
      const { fileId } = parseParams(c, fileParam);
      return c.json(await files.forFileActor(c.var.fileActor).link(fileId), 201);
    })
    .get('/:fileId/content', authenticate(identity, { optional: true }), async (c) => {
      const { fileId } = parseParams(c, fileParam);
      const file = await files.download(fileId, c.req.query('token'), c.var.actor);
      return new Response(Readable.toWeb(file.stream) as ReadableStream, {
        status: 200,
        headers: {
          'content-type': file.type,
          'content-length': String(file.size),
          'content-disposition': `attachment; filename="${asciiName(file.name)}"; filename*=UTF-8''${encodeURIComponent(file.name)}`,
          'x-content-type-options': 'nosniff',
          'cache-control': 'private, no-store',
          // Each part is its own secretstream: a range would mean decrypting from the part's start, so none are offered.
          'accept-ranges': 'none',
        },
      });
    });
}

const asciiName = (name: string) => name.replace(/[^\x20-\x7e]|["\\]/g, '_');
