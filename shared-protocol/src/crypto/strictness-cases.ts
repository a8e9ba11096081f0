/**
 * Edge cases that separate strict RFC 8032 verification from lenient variants (ZIP-215, libsodium
 * quirks): they go into the vectors so another implementation can prove it decides as we do.
 */
import { toHex, utf8 } from './bytes.js';
import { ed25519 } from '@noble/curves/ed25519.js';
import { sha256 } from './hash.js';

export interface StrictnessCase {
  name: string;
  publicKey: string;
  message: string;
  signature: string;
  valid: boolean;
  rule: string;
}

const L = 2n ** 252n + 27742317777372353535851937790883648493n;

const toLittleEndian = (value: bigint, length: number): Uint8Array => {
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = Number((value >> BigInt(8 * i)) & 0xffn);
  return out;
};
const fromLittleEndian = (bytes: Uint8Array): bigint =>
  bytes.reduceRight((value, byte) => (value << 8n) | BigInt(byte), 0n);

export function strictnessCases(): StrictnessCase[] {
  const seed = sha256(utf8('mini-sharing TEST key: strictness'));
  const publicKey = ed25519.getPublicKey(seed);
  const message = utf8('unlock');
  const signature = ed25519.sign(message, seed);
  const s = fromLittleEndian(signature.subarray(32));
  const withSPlusL = new Uint8Array(signature);
  withSPlusL.set(toLittleEndian(s + L, 32), 32);
  const identity = toLittleEndian(1n, 32);
  const nonCanonicalKey = toLittleEndian(2n ** 255n - 19n + 2n, 32); // y = p + 2 encodes y = 2
  const smallOrderR = new Uint8Array(signature);
  smallOrderR.set(identity, 0);
  const hex = toHex;
  return [
    {
      name: 'valid',
      publicKey: hex(publicKey),
      message: hex(message),
      signature: hex(signature),
      valid: true,
      rule: 'accepted',
    },
    {
      name: 'S plus group order',
      publicKey: hex(publicKey),
      message: hex(message),
      signature: hex(withSPlusL),
      valid: false,
      rule: 'S must be below L',
    },
    {
      name: 'small-order public key (identity)',
      publicKey: hex(identity),
      message: hex(message),
      signature: hex(signature),
      valid: false,
      rule: 'A must not have small order',
    },
    {
      name: 'non-canonical public key (y >= p)',
      publicKey: hex(nonCanonicalKey),
      message: hex(message),
      signature: hex(signature),
      valid: false,
      rule: 'A must be canonically encoded',
    },
    {
      name: 'small-order R (identity)',
      publicKey: hex(publicKey),
      message: hex(message),
      signature: hex(smallOrderR),
      valid: false,
      rule: 'R must not have small order',
    },
    {
      name: 'other message',
      publicKey: hex(publicKey),
      message: hex(utf8('lock')),
      signature: hex(signature),
      valid: false,
      rule: 'cofactorless equation [S]B = R + [k]A fails',
    },
  ];
}
