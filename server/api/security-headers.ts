import type { Context, MiddlewareHandler } from 'hono';

/**
 * Pages may load only our own scripts, styles and media; no inline script, no plugins, no <base>
 * rewriting. connect-src 'self' covers the signaling WebSocket (CSP3 matches ws:/wss: to 'self').
 * `blob:` for media: local previews and remote tracks are MediaStreams, some browsers route them
 * through blob URLs.
 */
const PAGE_DIRECTIVES = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "media-src 'self' blob:",
  "connect-src 'self'",
  "font-src 'self'",
  "worker-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
];

/**
 * The consultation pages (room and pre-call check) run the background-blur segmenter, a WebAssembly
 * module: 'wasm-unsafe-eval' lets them compile wasm, and only wasm (no eval, no new Function).
 * Every other page keeps plain script-src 'self'.
 */
const WASM_PAGES = /^\/(app\/(index\.html|precall\.html)?|embed\/consult\.html)$/;
const WASM_SCRIPT_SRC = "script-src 'self' 'wasm-unsafe-eval'";

/** Anything that is not a page (JSON, feeds, assets) may load nothing at all if opened directly. */
const RESOURCE_DIRECTIVES = ["default-src 'none'", "base-uri 'none'"];

const PERMISSIONS_POLICY =
  'camera=(self), microphone=(self), display-capture=(self), fullscreen=(self), geolocation=(), payment=(), usb=(), serial=(), bluetooth=()';

export type SecurityHeaderOptions = {
  /** Strict-Transport-Security max-age; 0 = not sent (HSTS_MAX_AGE_SECONDS, for nodes behind TLS). */
  hstsMaxAgeSeconds?: number;
  /**
   * Origins allowed to frame the page at `path`; undefined or empty = nobody (frame-ancestors
   * 'none' and X-Frame-Options DENY). The embeddable widget will answer its clinic's origins here.
   */
  frameAncestors?: (path: string) => readonly string[] | undefined;
};

/** The headers that need no request: the socket tier adds them to the answers it writes itself. */
export const BASELINE_SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'content-security-policy': [...RESOURCE_DIRECTIVES, "frame-ancestors 'none'"].join('; '),
};

export function securityHeaderValues(
  opts: SecurityHeaderOptions,
  path: string,
  contentType: string | null,
): Record<string, string> {
  const ancestors = opts.frameAncestors?.(path)?.filter(Boolean) ?? [];
  const isPage = /^text\/html\b/i.test(contentType ?? '');
  const directives = [
    ...(isPage
      ? PAGE_DIRECTIVES.map((d) =>
          d.startsWith('script-src') && WASM_PAGES.test(path) ? WASM_SCRIPT_SRC : d,
        )
      : RESOURCE_DIRECTIVES),
    `frame-ancestors ${ancestors.length ? ancestors.join(' ') : "'none'"}`,
  ];
  const headers: Record<string, string> = {
    'content-security-policy': directives.join('; '),
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
    'permissions-policy': PERMISSIONS_POLICY,
    'cross-origin-opener-policy': 'same-origin',
  };
  // X-Frame-Options cannot list origins; where some may frame, CSP frame-ancestors alone decides.
  if (!ancestors.length) headers['x-frame-options'] = 'DENY';
  if (opts.hstsMaxAgeSeconds) headers['strict-transport-security'] = `max-age=${opts.hstsMaxAgeSeconds}`;
  return headers;
}

const FRAME_ANCESTORS = 'frameAncestors';

/**
 * A route that decides per request who may frame its answer (the widget page: the origins its
 * clinic allows) says so here; the middleware below then writes them instead of the default.
 */
export function allowFraming(c: Context, origins: readonly string[]) {
  (c.set as (key: string, value: unknown) => void)(FRAME_ANCESTORS, origins);
}

/** Sets the browser security headers on every response the app writes, errors and 404s included. */
export function securityHeaders(opts: SecurityHeaderOptions = {}): MiddlewareHandler {
  return async (c, next) => {
    await next();
    const perRequest = (c.get as (key: string) => unknown)(FRAME_ANCESTORS) as readonly string[] | undefined;
    const options = perRequest ? { ...opts, frameAncestors: () => perRequest } : opts;
    const values = securityHeaderValues(options, c.req.path, c.res.headers.get('content-type'));
    try {
      for (const [name, value] of Object.entries(values)) c.res.headers.set(name, value);
    } catch {
      // Some Responses (Response.redirect, fetch results) have immutable headers: copy once.
      c.res = new Response(c.res.body, c.res);
      for (const [name, value] of Object.entries(values)) c.res.headers.set(name, value);
    }
  };
}
