import type { CareCallNode } from '../../server/node.ts';

/** A small PDF (its signature passes the type check). */
export const SMALL_PDF = Buffer.concat([
  Buffer.from('%PDF-1.7\n%\xe2\xe3\xcf\xd3\n', 'latin1'),
  Buffer.alloc(3_000, 7),
]) as Buffer<ArrayBuffer>;

const meta = (m: Record<string, string>) =>
  Object.entries(m)
    .map(([k, v]) => `${k} ${Buffer.from(v).toString('base64')}`)
    .join(',');

/**
 * A tus upload through the node's app, as the web client makes it: POST, then one PATCH with the
 * whole body unless `complete` is false. `authorization` is `Bearer <token>` or `Room <grant>`.
 */
export async function uploadThroughApp(
  node: CareCallNode,
  authorization: string,
  conversationId: string,
  opts: { bytes?: Buffer<ArrayBuffer>; complete?: boolean } = {},
): Promise<string> {
  const bytes = opts.bytes ?? SMALL_PDF;
  const env = { remoteAddress: '203.0.113.7' };
  const created = await node.app.request(
    '/api/files/uploads',
    {
      method: 'POST',
      headers: {
        authorization,
        'tus-resumable': '1.0.0',
        'upload-length': String(bytes.length),
        'upload-metadata': meta({ conversationId, filename: 'scan.pdf', filetype: 'application/pdf' }),
      },
    },
    env,
  );
  if (created.status !== 201) throw new Error(`upload refused: ${created.status} ${await created.text()}`);
  const id = created.headers.get('location')!.split('/').pop()!;
  if (opts.complete === false) return id;
  const patched = await node.app.request(
    `/api/files/uploads/${id}`,
    {
      method: 'PATCH',
      headers: {
        authorization,
        'tus-resumable': '1.0.0',
        'upload-offset': '0',
        'content-type': 'application/offset+octet-stream',
      },
      body: bytes,
    },
    env,
  );
  if (patched.status !== 204)
    throw new Error(`upload not written: ${patched.status} ${await patched.text()}`);
  return id;
}
