import http from 'node:http';
import https from 'node:https';
import { isIP } from 'node:net';
import { parseRetryAfter, type AttemptResult } from './retry-policy.ts';
import { guardedLookup, isPrivateAddress } from './url-guard.ts';

export type SignedRequest = {
  url: string;
  /** webhook-id, webhook-timestamp, webhook-signature. */
  headers: Record<string, string>;
  body: Buffer;
};

export type SendOptions = { timeoutMs: number; allowPrivate: boolean };

/**
 * POSTs one signed delivery and reports what came of it. Redirects are not followed (a receiver
 * cannot bounce the request into the hospital network); the response body is drained and
 * dropped, never stored; the time limit covers connecting, sending and the response headers.
 */
export function sendSigned(req: SignedRequest, opts: SendOptions): Promise<AttemptResult> {
  const started = performance.now();
  const latency = () => Math.round(performance.now() - started);
  const url = new URL(req.url);
  const host = url.hostname.replace(/^\[|\]$/g, '');
  // A literal address is connected to without a lookup, so it is checked here.
  if (!opts.allowPrivate && isIP(host) && isPrivateAddress(host))
    return Promise.resolve({ kind: 'error', error: 'refused_address', latencyMs: 0 });
  const client = url.protocol === 'https:' ? https : http;
  return new Promise((resolve) => {
    let settled = false;
    const done = (r: AttemptResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(r);
    };
    const request = client.request(
      url,
      {
        method: 'POST',
        headers: {
          ...req.headers,
          'content-type': 'application/json',
          'content-length': String(req.body.length),
          'user-agent': 'CareCall-Webhooks/1',
        },
        lookup: guardedLookup(opts.allowPrivate),
        agent: false,
      },
      (res) => {
        const header = res.headers['retry-after'];
        done({
          kind: 'response',
          status: res.statusCode ?? 0,
          retryAfterMs: parseRetryAfter(Array.isArray(header) ? header[0] : header, Date.now()),
          latencyMs: latency(),
        });
        res.resume();
        res.on('error', () => {});
      },
    );
    const timer = setTimeout(() => {
      done({ kind: 'error', error: 'timeout', latencyMs: latency() });
      request.destroy();
    }, opts.timeoutMs);
    request.on('error', (err: NodeJS.ErrnoException) => {
      done({
        kind: 'error',
        error: err.code === 'ERR_WEBHOOK_REFUSED_ADDRESS' ? 'refused_address' : 'network',
        latencyMs: latency(),
      });
    });
    request.end(req.body);
  });
}
