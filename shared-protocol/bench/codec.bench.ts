// Service-link frame codec throughput: encode + decode of 4 KiB-payload frames, as a ratio to
// the fastest line rate the service link negotiates (921600 baud, 8N1 = 92,160 bytes/s).
import { randomFillSync } from 'node:crypto';
import { FrameDecoder, encodeFrame } from '../src/framing/index.js';
import type { Frame } from '../src/framing/index.js';

const PAYLOAD_SIZE = 4096;
const LINE_RATE_BYTES_PER_SECOND = 921_600 / 10; // 10 bits per byte on the wire (8N1)
const REQUIRED_RATIO = 100;
const WARMUP_MS = 500;
const MEASURE_MS = 2000;
const BATCH = 64; // frames between clock reads

// A pool of random payloads so the CRC and COBS work on varied data, not one cached pattern.
const payloads: Uint8Array[] = Array.from({ length: 32 }, () =>
  randomFillSync(new Uint8Array(PAYLOAD_SIZE)),
);

let seq = 0;

function runBatch(decoder: FrameDecoder): number {
  for (let k = 0; k < BATCH; k++) {
    const frame: Frame = {
      type: 0x42,
      seq,
      payload: payloads[seq % payloads.length] as Uint8Array,
    };
    seq = (seq + 1) & 0xffff;
    const decoded = decoder.push(encodeFrame(frame));
    if (decoded.length !== 1 || decoded[0]?.payload.length !== PAYLOAD_SIZE) {
      throw new Error('codec bench: a frame did not round-trip');
    }
  }
  return BATCH * PAYLOAD_SIZE;
}

function runFor(durationMs: number): { bytes: number; elapsedMs: number } {
  const decoder = new FrameDecoder();
  let bytes = 0;
  const start = performance.now();
  let elapsedMs = 0;
  while (elapsedMs < durationMs) {
    bytes += runBatch(decoder);
    elapsedMs = performance.now() - start;
  }
  if (decoder.stats.framesDropped !== 0) throw new Error('codec bench: frames were dropped');
  return { bytes, elapsedMs };
}

runFor(WARMUP_MS);
const { bytes, elapsedMs } = runFor(MEASURE_MS);
const bytesPerSecond = bytes / (elapsedMs / 1000);
const ratio = bytesPerSecond / LINE_RATE_BYTES_PER_SECOND;

console.log(`codec-throughput-MBps ${(bytesPerSecond / 1e6).toFixed(1)}`);
console.log(`codec-vs-line-rate ${ratio.toFixed(1)}`);
if (ratio < REQUIRED_RATIO) {
  console.error(
    `codec throughput ${ratio.toFixed(1)}x the 921600-baud line rate is below the required ` +
      `${REQUIRED_RATIO}x`,
  );
  process.exit(1);
}
