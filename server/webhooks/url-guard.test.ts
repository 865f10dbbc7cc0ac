import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProblemError } from '../api/errors.ts';
import { parseRetryAfter, verdict, type AttemptResult } from './retry-policy.ts';
import { sendSigned } from './sender.ts';
import { startReceiver, type Receiver } from './test-support/receiver.ts';
import { checkEndpointUrl, isPrivateAddress } from './url-guard.ts';

const production = { allowHttp: false, allowPrivate: false };
const refusal = (url: string, rules = production) => {
  try {
    checkEndpointUrl(url, rules);
    return undefined;
  } catch (err) {
    expect(err).toBeInstanceOf(ProblemError);
    return (err as ProblemError).code;
  }
};

describe('endpoint URLs', () => {
  it('takes public https URLs and normalises them', () => {
    expect(checkEndpointUrl('https://Hooks.Example.com/carecall?x=1', production)).toBe(
      'https://hooks.example.com/carecall?x=1',
    );
    expect(checkEndpointUrl('https://93.184.215.14:8443/h', production)).toBe('https://93.184.215.14:8443/h');
  });

  it('refuses http outside development and test, other schemes, credentials and garbage', () => {
    expect(refusal('http://hooks.example.com/x')).toBe('invalid_webhook_url');
    expect(refusal('http://hooks.example.com/x', { allowHttp: true, allowPrivate: false })).toBeUndefined();
    expect(refusal('ftp://hooks.example.com/x', { allowHttp: true, allowPrivate: false })).toBe(
      'invalid_webhook_url',
    );
    expect(refusal('https://user:pw@hooks.example.com/')).toBe('invalid_webhook_url');
    expect(refusal('hooks.example.com/x')).toBe('invalid_webhook_url');
    expect(refusal(`https://hooks.example.com/${'a'.repeat(2100)}`)).toBe('invalid_webhook_url');
  });

  it('refuses loopback, private, link-local and local names unless the option allows them', () => {
    for (const url of [
      'https://127.0.0.1/x',
      'https://10.1.2.3/x',
      'https://172.20.0.1/x',
      'https://192.168.1.10/x',
      'https://169.254.169.254/latest/meta-data',
      'https://100.64.0.1/x',
      'https://0.0.0.0/x',
      'https://[::1]/x',
      'https://[fd00::1]/x',
      'https://[fe80::1]/x',
      'https://[::ffff:127.0.0.1]/x',
      'https://localhost/x',
      'https://ehr/x',
      'https://ehr.internal/x',
      'https://printer.local/x',
    ])
      expect(refusal(url), url).toBe('invalid_webhook_url');
    expect(refusal('https://10.1.2.3/x', { allowHttp: false, allowPrivate: true })).toBeUndefined();
    expect(isPrivateAddress('8.8.8.8')).toBe(false);
    expect(isPrivateAddress('2606:4700::1111')).toBe(false);
  });
});

describe('sending to an address that turns out private', () => {
  let receiver: Receiver;
  beforeAll(async () => {
    receiver = await startReceiver();
  });
  afterAll(() => receiver.close());

  it('refuses a literal loopback address and a name resolving to one (DNS checked at connect time)', async () => {
    const req = { headers: {}, body: Buffer.from('{}') };
    const literal = await sendSigned(
      { ...req, url: receiver.url() },
      { timeoutMs: 2000, allowPrivate: false },
    );
    expect(literal).toMatchObject({ kind: 'error', error: 'refused_address' });
    const named = await sendSigned(
      { ...req, url: receiver.url().replace('127.0.0.1', 'localhost') },
      { timeoutMs: 2000, allowPrivate: false },
    );
    expect(named).toMatchObject({ kind: 'error', error: 'refused_address' });
    expect(receiver.received).toHaveLength(0);
    // The development/test option lets the same request through.
    const allowed = await sendSigned(
      { ...req, url: receiver.url() },
      { timeoutMs: 2000, allowPrivate: true },
    );
    expect(allowed).toMatchObject({ kind: 'response', status: 200 });
    expect(receiver.received).toHaveLength(1);
  });
});

describe('retry verdicts', () => {
  const rules = { maxAttempts: 5, retryBaseMs: 1000, retryMaxMs: 60_000 };
  const status = (s: number, retryAfterMs?: number): AttemptResult => ({
    kind: 'response',
    status: s,
    retryAfterMs,
    latencyMs: 5,
  });

  it('retries timeouts, network errors, 408, 429 and 5xx; not other 4xx, 3xx or a refused address', () => {
    for (const r of [
      status(500),
      status(503),
      status(408),
      status(429),
      { kind: 'error', error: 'timeout', latencyMs: 1 } as const,
      { kind: 'error', error: 'network', latencyMs: 1 } as const,
    ])
      expect(verdict(r, 1, rules).outcome).toBe('retry');
    for (const r of [
      status(400),
      status(401),
      status(404),
      status(410),
      status(301),
      {
        kind: 'error',
        error: 'refused_address',
        latencyMs: 0,
      } as const,
    ])
      expect(verdict(r, 1, rules).outcome).toBe('failed');
    expect(verdict(status(204), 1, rules).outcome).toBe('succeeded');
    expect(verdict(status(500), 5, rules).outcome).toBe('failed');
  });

  it('backs off exponentially with jitter in the upper half, capped, and honours a longer Retry-After (past the cap, up to a day)', () => {
    const delay = (attempt: number, random: number, r = status(500)) => {
      const v = verdict(r, attempt, rules, () => random);
      return v.outcome === 'retry' ? v.delayMs : -1;
    };
    expect([delay(1, 0), delay(1, 1)]).toEqual([500, 1000]);
    expect([delay(3, 0), delay(3, 1)]).toEqual([2000, 4000]);
    expect(delay(4, 0.5, status(500))).toBe(6000);
    const capped = { ...rules, maxAttempts: 50 };
    expect(verdict(status(500), 30, capped, () => 1)).toEqual({ outcome: 'retry', delayMs: 60_000 });
    expect(delay(1, 0, status(429, 30_000))).toBe(30_000);
    expect(delay(1, 0, status(503, 10 * 60_000))).toBe(10 * 60_000);
    expect(delay(1, 0, status(503, 30 * 86_400_000))).toBe(86_400_000);
    expect(parseRetryAfter('120', 0)).toBe(120_000);
    expect(parseRetryAfter(new Date(90_000).toUTCString(), 30_000)).toBe(60_000);
    expect(parseRetryAfter('soon', 0)).toBeUndefined();
  });
});
