// argon2id off the event loop: one libsodium instance per worker thread (plain JS, so it runs
// wherever the server runs: tsx, vitest, plain node). Messages: {id, op, ...} -> {id, result | error}.
import { parentPort } from 'node:worker_threads';
import sodium from 'libsodium-wrappers-sumo';

await sodium.ready;

parentPort.on('message', ({ id, op, password, hash, ops, mem }) => {
  try {
    let result;
    if (op === 'hash') result = sodium.crypto_pwhash_str(password, ops, mem);
    else if (op === 'verify') {
      try {
        result = sodium.crypto_pwhash_str_verify(hash, password);
      } catch {
        result = false; // a malformed stored hash verifies nothing
      }
    } else throw new Error(`unknown op ${op}`);
    parentPort.postMessage({ id, result });
  } catch (err) {
    parentPort.postMessage({ id, error: err instanceof Error ? err.message : String(err) });
  }
});
