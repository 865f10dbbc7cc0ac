import type { Db } from '../../db/client.ts';
import type { DataEncryptionConfig } from '../config.ts';
import { DataKeyStore } from './data-key-store.ts';
import { FileCipher } from './file-cipher.ts';
import { kekRingFromConfig } from './kek-ring.ts';
import { MessageSealer } from './message-sealer.ts';

export {
  DecryptionError,
  KeyUnavailableError,
  InvalidScopeError,
  type DecryptionErrorCode,
} from './errors.ts';
export { DataKeyStore, type RewrapResult } from './data-key-store.ts';
export { MessageSealer } from './message-sealer.ts';
export { FileCipher, encryptedSize } from './file-cipher.ts';
export { KekRing, kekRingFromConfig } from './kek-ring.ts';

export type DataEncryption = { keys: DataKeyStore; messages: MessageSealer; files: FileCipher };

/** Encryption at rest as the features use it: per-scope data keys, message sealing, file streams. */
export async function createDataEncryption(
  db: Db,
  config: DataEncryptionConfig,
  warn: (message: string) => void,
): Promise<DataEncryption> {
  const keys = new DataKeyStore(db, await kekRingFromConfig(config, warn), { cacheSize: config.cacheSize });
  return { keys, messages: new MessageSealer(keys), files: new FileCipher(keys) };
}
