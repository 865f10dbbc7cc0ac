import { Hono, type Context } from 'hono';
import { existsSync, readFileSync } from 'node:fs';
import { ProblemError } from '../api/errors.ts';
import { PROBLEM } from '../api/problem-codes.ts';
import { allowFraming } from '../api/security-headers.ts';
import type { Embed } from './create-embed.ts';
import { parseOrigin } from './origins.ts';

const DIST = new URL('../../web-client/dist/', import.meta.url);
const PAGE = new URL('embed/consult.html', DIST);
const LOADER = new URL('embed/widget.js', DIST);

/** Why the page shows a refusal instead of the consultation (the page words it for the patient). */
export type Refusal = 'origin' | 'expired' | 'invalid' | 'no_session';

/** What the page learns from the server: put into a meta tag, read once by the page's script. */
export type EmbedBoot =
  | { refused: Refusal }
  | { session: string; hostOrigin: string; accentColor: string | null; logoText: string | null };

const escapeAttribute = (s: string) =>
  s.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

function page(boot: EmbedBoot): string | undefined {
  if (!existsSync(PAGE)) return undefined;
  const meta = `<meta name="carecall-widget" content="${escapeAttribute(JSON.stringify(boot))}" />`;
  return readFileSync(PAGE, 'utf8').replace('</head>', `${meta}\n</head>`);
}

/**
 * /embed/consult.html, the patient flow inside the clinic's iframe, and /embed/widget.js, the
 * loader the clinic's page includes. The loader opens the page with a form POST (the widget token
 * in the body, never in a URL), so the server can decide before answering who may frame it: the
 * origins the token's clinic allows. Anything else gets a page that says why, framable only by the
 * site that asked (so the patient there sees it) or by nobody.
 */
export function embedPageRoutes(embed: Embed) {
  const answer = (c: Context, boot: EmbedBoot, status: 200 | 400 | 401 | 403, framers: readonly string[]) => {
    const html = page(boot);
    if (!html) return c.text('web client not built: run npm start (it builds it)', 503);
    allowFraming(c, framers);
    c.header('cache-control', 'no-store');
    return c.html(html, status);
  };
  return new Hono()
    .get('/widget.js', (c) => {
      if (!existsSync(LOADER)) return c.text('web client not built: run npm start (it builds it)', 503);
      return c.body(readFileSync(LOADER), 200, {
        'content-type': 'text/javascript; charset=utf-8',
        'cache-control': 'public, max-age=300',
        'cross-origin-resource-policy': 'cross-origin',
      });
    })
    .get('/consult.html', (c) => answer(c, { refused: 'no_session' }, 400, []))
    .post('/consult.html', async (c) => {
      const form = await c.req.parseBody();
      const field = (name: string) => (typeof form[name] === 'string' ? (form[name] as string) : '');
      // The browser's Origin header cannot be forged by the page; the form field stands in only
      // where the host's referrer policy made the browser send "null".
      const header = c.req.header('origin');
      const claimed = header && header !== 'null' ? header : field('origin');
      const parsed = parseOrigin(claimed);
      const host = parsed.ok ? parsed.origin : undefined;
      const refuse = (reason: Refusal, status: 400 | 401 | 403) =>
        answer(c, { refused: reason }, status, host ? [host] : []);
      let claims;
      try {
        claims = await embed.tokens.verify(field('session'));
      } catch (err) {
        const expired = err instanceof ProblemError && err.code === PROBLEM.widgetTokenExpired;
        return refuse(expired ? 'expired' : 'invalid', 401);
      }
      const clinic = field('clinic');
      if ((clinic && clinic !== claims.clinicId) || !(await embed.apiKeys.isLive(claims.keyId)))
        return refuse('invalid', 401);
      const settings = await embed.settings.get(claims.clinicId);
      if (!host || !settings.allowedOrigins.includes(host)) return refuse('origin', 403);
      return answer(
        c,
        {
          session: field('session'),
          hostOrigin: host,
          accentColor: settings.accentColor,
          logoText: settings.logoText,
        },
        200,
        settings.allowedOrigins,
      );
    });
}
