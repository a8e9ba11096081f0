/**
 * Raw deflate (RFC 1951) through the platform's CompressionStream, so the same code runs in Node
 * 20 and in browsers without a zlib dependency. Flashing sends the compressed stream and the
 * module inflates it: firmware images shrink to about half, so the line carries twice the image.
 */
async function pipe(bytes: Uint8Array, transform: CompressionStream | DecompressionStream) {
  const stream = new Blob([bytes as Uint8Array<ArrayBuffer>]).stream().pipeThrough(transform);
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

export function deflateRaw(bytes: Uint8Array): Promise<Uint8Array> {
  return pipe(bytes, new CompressionStream('deflate-raw'));
}

export function inflateRaw(bytes: Uint8Array): Promise<Uint8Array> {
  return pipe(bytes, new DecompressionStream('deflate-raw'));
}
