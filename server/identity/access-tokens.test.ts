import { afterEach, describe, expect, it, vi } from 'vitest';
import { AccessTokens, loadAuthKeys } from './access-tokens.ts';

const claims = { sub: 'u1', sid: 's1', role: 'doctor' as const };

describe('access token verification with the verified-token memory', () => {
  afterEach(() => vi.useRealTimers());

  it('accepts a verified token again until it expires, then refuses it as expired', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const tokens = new AccessTokens(loadAuthKeys(undefined), 60);
    const token = await tokens.mint(claims);
    expect(await tokens.verify(token)).toEqual(claims);
    expect(await tokens.verify(token)).toEqual(claims);
    vi.setSystemTime(Date.now() + 66_000);
    await expect(tokens.verify(token)).rejects.toMatchObject({ code: 'token_expired' });
  });

  it('remembers only the exact token: a changed signature or payload is checked and refused', async () => {
    const tokens = new AccessTokens(loadAuthKeys(undefined), 60);
    const token = await tokens.mint(claims);
    await tokens.verify(token);
    const [header, payload, signature] = token.split('.');
    const otherSignature = `${header}.${payload}.${signature!.slice(0, -2)}${signature!.endsWith('AA') ? 'BB' : 'AA'}`;
    await expect(tokens.verify(otherSignature)).rejects.toMatchObject({ code: 'token_invalid' });
    const forged = Buffer.from(
      JSON.stringify({ ...JSON.parse(Buffer.from(payload!, 'base64url').toString()), role: 'admin' }),
    ).toString('base64url');
    await expect(tokens.verify(`${header}.${forged}.${signature}`)).rejects.toMatchObject({
      code: 'token_invalid',
    });
  });

  it('a token of another key is refused even after a valid one was remembered', async () => {
    const ours = new AccessTokens(loadAuthKeys(undefined), 60);
    const theirs = new AccessTokens(loadAuthKeys(undefined), 60);
    await ours.verify(await ours.mint(claims));
    await expect(ours.verify(await theirs.mint(claims))).rejects.toMatchObject({ code: 'token_invalid' });
  });
});
