import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestNode } from '../../test/helpers/node.ts';
import { DEMO_ACCOUNTS } from '../demo/demo-seed.ts';

/**
 * A whole node (PGlite, demo mode) through sign-in with a second factor, a PHI read, a refresh and
 * sign-out; the captured log must hold none of the secrets or personal data that passed through.
 */
describe('logs during login + 2FA hold no secrets or PHI', () => {
  let t: Awaited<ReturnType<typeof startTestNode>>;
  beforeAll(async () => {
    t = await startTestNode({ DEMO: 'on' });
  });
  afterAll(() => t.node.stop());

  it('records requests by id and route only', async () => {
    const patient = DEMO_ACCOUNTS[2];
    const post = (path: string, body: unknown, token?: string) =>
      fetch(`${t.baseUrl}${path}`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          ...(token ? { authorization: `Bearer ${token}` } : {}),
        },
        body: JSON.stringify(body),
      });

    const wrong = await post('/api/auth/login', { email: patient.email, password: 'wrong-password-guess' });
    expect(wrong.status).toBe(401);
    const start = await (
      await post('/api/auth/login', { email: patient.email, password: patient.password })
    ).json();
    expect(start.mfaRequired).toBe(true);
    const outbox = await (
      await fetch(`${t.baseUrl}/api/dev/outbox?recipient=${encodeURIComponent(patient.email)}`)
    ).json();
    const code = /\b(\d{6})\b/.exec(outbox.messages[0].body)![1]!;
    const badCode = code === '000000' ? '111111' : '000000';
    expect((await post('/api/auth/mfa', { challengeId: start.challengeId, code: badCode })).status).toBe(401);
    const tokens = await (await post('/api/auth/mfa', { challengeId: start.challengeId, code })).json();
    expect(tokens.accessToken).toBeTruthy();
    const me = await (
      await fetch(`${t.baseUrl}/api/me`, { headers: { authorization: `Bearer ${tokens.accessToken}` } })
    ).json();
    expect(me.email).toBe(patient.email);
    const record = await fetch(`${t.baseUrl}/api/patients/${patient.id}`, {
      headers: { authorization: `Bearer ${tokens.accessToken}` },
    });
    expect(record.status).toBe(200);
    const refreshed = await (await post('/api/auth/refresh', { refreshToken: tokens.refreshToken })).json();
    expect((await post('/api/auth/logout', {}, refreshed.accessToken)).status).toBe(204);

    const log = t.logs.lines.join('\n');
    // Not vacuous: the flow was logged, by request id and route pattern.
    const requests = t.logs.lines.filter((l) => l.includes('"api request"'));
    expect(requests.length).toBeGreaterThanOrEqual(8);
    expect(log).toContain('"route":"/api/patients/:patientId"');
    const forbidden = [
      patient.password,
      'wrong-password-guess',
      code,
      tokens.accessToken,
      tokens.refreshToken,
      refreshed.accessToken,
      refreshed.refreshToken,
      start.challengeId,
      patient.email,
      patient.displayName,
      'demo.carecall.test',
    ];
    for (const secret of forbidden)
      expect(log.includes(secret), `log contains ${secret.slice(0, 12)}…`).toBe(false);
  });
});
