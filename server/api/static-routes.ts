import { serveStatic } from '@hono/node-server/serve-static';
import { Hono } from 'hono';
import { existsSync, readFileSync } from 'node:fs';
import { relative } from 'node:path';

const DIST = new URL('../../web-client/dist', import.meta.url).pathname;
const FAVICON = readFileSync(new URL('../../web-client/public/favicon.svg', import.meta.url));

/** The built browser client under /app/ (vite build output). */
export function staticRoutes() {
  const root = relative(process.cwd(), DIST) || '.';
  return (
    new Hono()
      .get('/', (c) => c.redirect('/app/', 302))
      // Browsers ask for /favicon.ico on every page whatever the page links to; answer with the icon.
      .get('/favicon.ico', (c) =>
        c.body(FAVICON, 200, { 'content-type': 'image/svg+xml', 'cache-control': 'public, max-age=86400' }),
      )
      .get('/app', (c) => c.redirect('/app/', 302))
      .use('/app/*', async (c, next) => {
        // Tokens travel in the URL fragment, but keep any referrer from leaking the page URL.
        await next();
        c.header('referrer-policy', 'no-referrer');
        c.header(
          'cache-control',
          c.req.path.startsWith('/app/assets/') ? 'public, max-age=31536000, immutable' : 'no-cache',
        );
      })
      .use('/app/*', serveStatic({ root, rewriteRequestPath: (p) => p.replace(/^\/app/, '') }))
      .get('/app/*', (c) =>
        existsSync(DIST) ? c.notFound() : c.text('web client not built: run npm start (it builds it)', 503),
      )
  );
}
