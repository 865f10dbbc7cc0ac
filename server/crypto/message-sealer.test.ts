import { randomBytes } from 'node:crypto';
import sodium from 'libsodium-wrappers-sumo';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENGINES, openTestEngine } from '../../test/helpers/engines.ts';
import { DataKeyStore } from './data-key-store.ts';
import { DecryptionError, InvalidScopeError } from './errors.ts';
import { KekRing } from './kek-ring.ts';
import { MESSAGE_OVERHEAD, MessageSealer } from './message-sealer.ts';

const flip = (bytes: Uint8Array, at: number) => {
  const copy = Uint8Array.from(bytes);
  copy[at]! ^= 0x01;
  return copy;
};

describe.each(ENGINES)('message sealing on %s', (engine) => {
  let db: Awaited<ReturnType<typeof openTestEngine>>;
  let sealer: MessageSealer;
  let kekBytes: Buffer;
  const scope = 'conversation:6c1f0e9a-2b7d-4d55-9a43-0b8f6f3e2a11';
  beforeAll(async () => {
    await sodium.ready;
    db = await openTestEngine(engine);
    kekBytes = randomBytes(32);
    sealer = new MessageSealer(new DataKeyStore(db.handle.db, new KekRing({ version: 1, key: kekBytes })));
  });
  afterAll(() => db?.close());

  const openError = (s: string, recordId: string, envelope: Uint8Array, by = sealer) =>
    by.open(s, recordId, envelope).then(
      () => undefined,
      (err: unknown) => err,
    );

  it('round-trips text (Unicode, empty) and bytes; each seal has its own nonce', async () => {
    for (const text of ['Brustschmerz seit Dienstag, 38,5 °C 🤒', '', 'x'.repeat(64 * 1024)]) {
      const env = await sealer.seal(scope, 'msg-1', text);
      expect(env.length).toBe(MESSAGE_OVERHEAD + Buffer.byteLength(text));
      expect(await sealer.openText(scope, 'msg-1', env)).toBe(text);
    }
    const bytes = randomBytes(1000);
    expect(Buffer.from(await sealer.open(scope, 'msg-2', await sealer.seal(scope, 'msg-2', bytes)))).toEqual(
      bytes,
    );
    const [a, b] = await Promise.all([
      sealer.seal(scope, 'msg-3', 'same'),
      sealer.seal(scope, 'msg-3', 'same'),
    ]);
    expect(Buffer.from(a).equals(Buffer.from(b))).toBe(false);
  });

  it('a flipped byte anywhere (header, key id, nonce, ciphertext, tag) is a typed error, never output', async () => {
    const env = await sealer.seal(scope, 'msg-9', 'the patient is allergic to penicillin');
    const regions = { format: 0, algorithm: 1, keyId: 5, nonce: 20, ciphertext: 45, tag: env.length - 1 };
    const codes: Record<string, string> = {};
    for (const [name, at] of Object.entries(regions)) {
      const err = await openError(scope, 'msg-9', flip(env, at));
      expect(err, name).toBeInstanceOf(DecryptionError);
      codes[name] = (err as DecryptionError).code;
    }
    expect(codes).toEqual({
      format: 'envelope_unsupported',
      algorithm: 'envelope_unsupported',
      keyId: 'ciphertext_invalid',
      nonce: 'ciphertext_invalid',
      ciphertext: 'ciphertext_invalid',
      tag: 'ciphertext_invalid',
    });
  });

  it('moved to another record or conversation, it does not open', async () => {
    const env = await sealer.seal(scope, 'msg-10', 'for this row only');
    expect(await openError(scope, 'msg-11', env)).toMatchObject({ code: 'ciphertext_invalid' });
    const other = 'conversation:0f0e3c56-1f0b-4ad1-8d9a-1d1c6f0b7e22';
    await sealer.seal(other, 'msg-10', 'the other conversation has its own key');
    expect(await openError(other, 'msg-10', env)).toMatchObject({ code: 'ciphertext_invalid' });
  });

  it('truncated, extended, empty or non-envelope input is a typed error', async () => {
    const env = await sealer.seal(scope, 'msg-12', 'complete');
    for (const bad of [
      env.subarray(0, env.length - 1),
      env.subarray(0, MESSAGE_OVERHEAD - 1),
      new Uint8Array([...env, 0]),
      new Uint8Array(0),
      new Uint8Array(1),
    ]) {
      expect(await openError(scope, 'msg-12', bad)).toBeInstanceOf(DecryptionError);
    }
    expect(await openError(scope, 'msg-12', 'not bytes' as unknown as Uint8Array)).toMatchObject({
      code: 'ciphertext_invalid',
    });
  });

  it('under a wrong KEK (same version, other bytes) it is a typed error', async () => {
    const env = await sealer.seal(scope, 'msg-13', 'secret');
    const wrong = new MessageSealer(
      new DataKeyStore(db.handle.db, new KekRing({ version: 1, key: randomBytes(32) })),
    );
    expect(await openError(scope, 'msg-13', env, wrong)).toMatchObject({
      name: 'DecryptionError',
      code: 'data_key_invalid',
    });
    const right = new MessageSealer(
      new DataKeyStore(db.handle.db, new KekRing({ version: 1, key: kekBytes })),
    );
    expect(await right.openText(scope, 'msg-13', env)).toBe('secret');
  });

  it('bytes that are not UTF-8 are refused by openText instead of shown as replacement characters', async () => {
    const env = await sealer.seal(scope, 'msg-14', new Uint8Array([0xff, 0xfe, 0x41]));
    await expect(sealer.openText(scope, 'msg-14', env)).rejects.toMatchObject({ code: 'ciphertext_invalid' });
  });

  it('refuses scopes and record ids that are not printable ids', async () => {
    for (const bad of ['', 'a b', 'x'.repeat(201), 'caf\u00e9', 'line\nbreak']) {
      await expect(sealer.seal(bad, 'msg', 'x')).rejects.toBeInstanceOf(InvalidScopeError);
      await expect(sealer.seal(scope, bad, 'x')).rejects.toBeInstanceOf(InvalidScopeError);
    }
  });
});
