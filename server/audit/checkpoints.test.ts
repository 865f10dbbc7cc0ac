import { Writable } from 'node:stream';
import { generateKeyPairSync } from 'node:crypto';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startIdentityHarness, type IdentityHarness } from '../../test/helpers/identity.ts';
import { runWithContext } from '../request-context.ts';
import { AuditCheckpointer, checkpointSignatureValid } from './checkpoints.ts';

describe('audit checkpoints: the signed chain head, logged when it moves', () => {
  let h: IdentityHarness;
  const lines: Record<string, unknown>[] = [];
  const logger = pino(
    { level: 'info' },
    new Writable({ write: (chunk, _enc, done) => (lines.push(JSON.parse(String(chunk))), done()) }),
  );
  beforeAll(async () => {
    h = await startIdentityHarness();
  });
  afterAll(() => h.close());

  const append = () =>
    runWithContext({ requestId: 'r', ip: '127.0.0.1', userAgent: 't' }, () =>
      h.identity.audit.record({
        action: 'patient.profile.read',
        outcome: 'allowed',
        resourceType: 'patient',
      }),
    );

  it('logs a checkpoint signed with the node key when the head moved, and nothing when it did not', async () => {
    const cp = new AuditCheckpointer(h.identity.audit, h.identity.keys.privateKey, logger);
    const row = await append();
    const first = await cp.tick();
    expect(first).toMatchObject({ seq: row.seq, hash: row.hash });
    expect(checkpointSignatureValid(first!, h.identity.keys.publicKey)).toBe(true);
    expect(await cp.tick()).toBeNull();
    const next = await append();
    expect((await cp.tick())!.seq).toBe(next.seq);
    const logged = lines.filter((l) => l.msg === 'audit checkpoint').map((l) => l.auditCheckpoint);
    expect(logged).toEqual([first, expect.objectContaining({ seq: next.seq })]);
    // Stopping writes the final head (unchanged here, so nothing new).
    await cp.stop();
    expect(lines.filter((l) => l.msg === 'audit checkpoint')).toHaveLength(2);
  });

  it('a signature does not survive a changed seq or hash, or another key', async () => {
    const cp = new AuditCheckpointer(h.identity.audit, h.identity.keys.privateKey, logger);
    await append();
    const signed = (await cp.tick())!;
    expect(checkpointSignatureValid({ ...signed, seq: signed.seq + 1 }, h.identity.keys.publicKey)).toBe(
      false,
    );
    expect(checkpointSignatureValid({ ...signed, hash: '0'.repeat(64) }, h.identity.keys.publicKey)).toBe(
      false,
    );
    expect(checkpointSignatureValid(signed, generateKeyPairSync('ed25519').publicKey)).toBe(false);
    expect(checkpointSignatureValid({ ...signed, signature: 'garbage' }, h.identity.keys.publicKey)).toBe(
      false,
    );
  });
});
