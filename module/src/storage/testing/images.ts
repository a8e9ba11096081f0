/** Test images: reproducible bytes and the identity a flash would begin with. */
import { sha256 } from '@mini-sharing/shared-protocol/crypto';
import type { ImageIdentity } from '../image-slot.js';

export function testImage(length: number, seed = 1): Uint8Array {
  const bytes = new Uint8Array(length);
  let state = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    bytes[i] = state & 0xff;
  }
  return bytes;
}

export const identityOf = (image: Uint8Array): ImageIdentity => ({
  imageSha256: sha256(image),
  totalLength: image.length,
});

export async function collect(chunks: AsyncIterable<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for await (const chunk of chunks) parts.push(chunk);
  return Uint8Array.from(parts.flatMap((part) => [...part]));
}
