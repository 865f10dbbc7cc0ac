import { isUtf8 } from 'node:buffer';
import { fileTypeFromBuffer } from 'file-type';

/** How many leading bytes the type check reads (file-type's own sample size). */
export const SNIFF_BYTES = 4100;

/**
 * Whether the bytes are what the uploader declared. Binary formats must carry their own signature
 * (a PNG declared as a PDF, or an executable declared as an image, fails); text must have none and
 * be UTF-8 without NUL bytes. The head may end inside a multi-byte character: up to three trailing
 * bytes are forgiven.
 */
export async function bytesMatchDeclaredType(declared: string, head: Uint8Array): Promise<boolean> {
  const found = await fileTypeFromBuffer(head);
  if (declared.startsWith('text/')) {
    if (found || head.includes(0)) return false;
    for (let cut = 0; cut <= Math.min(3, head.length); cut++)
      if (isUtf8(head.subarray(0, head.length - cut))) return true;
    return false;
  }
  return found?.mime === declared;
}
