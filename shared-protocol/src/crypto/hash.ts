import { hmac } from '@noble/hashes/hmac.js';
import { sha256 as nobleSha256 } from '@noble/hashes/sha2.js';

/** SHA-256 of a whole message. */
export const sha256 = (message: Uint8Array): Uint8Array => nobleSha256(message);

/** Incremental SHA-256, for streams (firmware images) that should not sit in memory whole. */
export const createSha256 = () => nobleSha256.create();

export const hmacSha256 = (key: Uint8Array, message: Uint8Array): Uint8Array =>
  hmac(nobleSha256, key, message);

/** A key id: the first 8 bytes of the SHA-256 of the public key (DESIGN.md "Keys and trust"). */
export const KEY_ID_LENGTH = 8;
export const keyIdOf = (publicKey: Uint8Array): Uint8Array =>
  sha256(publicKey).subarray(0, KEY_ID_LENGTH);
