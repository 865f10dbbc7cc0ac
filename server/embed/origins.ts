import { z } from 'zod';

/**
 * An exact web origin as a browser sends it in Origin: scheme, host and (when not the default)
 * port, nothing else. Wildcards, paths, queries, credentials and non-web schemes are refused, so
 * the value can go into frame-ancestors and Access-Control-Allow-Origin as it is.
 */
export function parseOrigin(value: string): { ok: true; origin: string } | { ok: false; reason: string } {
  if (value.includes('*')) return { ok: false, reason: 'wildcards are not allowed' };
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return { ok: false, reason: 'must be an origin such as https://clinic.example' };
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:')
    return { ok: false, reason: 'must be an http or https origin' };
  if (url.username || url.password) return { ok: false, reason: 'must not contain credentials' };
  if (url.search || url.hash || (url.pathname !== '/' && url.pathname !== ''))
    return { ok: false, reason: 'must be an origin only (no path, query or fragment)' };
  // new URL() accepts "https://a.example/" for "https://a.example": the origin is the canonical form.
  if (value.replace(/\/$/, '').toLowerCase() !== url.origin.toLowerCase())
    return { ok: false, reason: `must be written as its origin (${url.origin})` };
  return { ok: true, origin: url.origin };
}

export const originSchema = z
  .string({ message: 'must be a string' })
  .max(300, 'must be at most 300 characters')
  .transform((value, ctx) => {
    const r = parseOrigin(value);
    if (r.ok) return r.origin;
    ctx.addIssue({ code: 'custom', message: r.reason });
    return z.NEVER;
  });
