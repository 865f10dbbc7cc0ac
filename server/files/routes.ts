import { Hono } from 'hono';
import type { BlockList } from 'node:net';
import { Readable } from 'node:stream';
import type { Logger } from 'pino';
import { requestContext, type ApiEnv } from '../api/middleware.ts';
import { parseParams } from '../api/validation.ts';
import { authenticate } from '../identity/authenticate.ts';
import type { Identity } from '../identity/create-identity.ts';
import type { Files } from './files.ts';
import { fileParam } from './schemas.ts';

/**
 * Files over HTTP, mounted ahead of the API's body limit (uploads are streamed, never buffered):
 * tus 1.0 under /uploads, a download link per file, and the download itself, which a browser can
 * open without an Authorization header (the link is the credential, bound to its user).
 */
export function fileRoutes(identity: Identity, files: Files, logger: Logger, trustedProxies?: BlockList) {
  const uploads = new Hono<ApiEnv>()
    .use(authenticate(identity))
    .all('/', (c) => files.handleUpload(c.var.actor, c.req.raw))
    .all('/:uploadId', (c) => files.handleUpload(c.var.actor, c.req.raw));
  return new Hono<ApiEnv>()
    .use(requestContext(logger, trustedProxies))
    .route('/uploads', uploads)
    .post('/:fileId/link', authenticate(identity), async (c) => {
      const { fileId } = parseParams(c, fileParam);
      return c.json(await files.forActor(c.var.actor).link(fileId), 201);
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
