import sodium from 'libsodium-wrappers-sumo';

/** Symmetric sealing (XSalsa20-Poly1305) for secrets the server must read back, such as TOTP seeds. */
export class SecretSealer {
  constructor(private readonly key: Uint8Array) {
    if (key.length !== sodium.crypto_secretbox_KEYBYTES) throw new Error('sealing key must be 32 bytes');
  }

  seal(plaintext: string): string {
    const nonce = sodium.randombytes_buf(sodium.crypto_secretbox_NONCEBYTES);
    const box = sodium.crypto_secretbox_easy(sodium.from_string(plaintext), nonce, this.key);
    return `${sodium.to_base64(nonce)}.${sodium.to_base64(box)}`;
  }

  open(sealed: string): string {
    const [n, b] = sealed.split('.');
    if (!n || !b) throw new Error('malformed sealed value');
    return sodium.to_string(
      sodium.crypto_secretbox_open_easy(sodium.from_base64(b), sodium.from_base64(n), this.key),
    );
  }
}
