import { describe, expect, it } from 'vitest';
import { seededRandom } from './prng.js';
import { resampleUart } from './uart-sampling.js';

const STANDARD_RATES = [9600, 19200, 38400, 57600, 115200, 230400, 460800, 921600];

function randomBytes(count: number, seed: number): Uint8Array {
  const random = seededRandom(seed);
  return Uint8Array.from({ length: count }, () => Math.floor(random() * 256));
}

describe('resampleUart', () => {
  it('passes bytes unchanged when both ends use the same rate', () => {
    const bytes = randomBytes(100, 1);
    expect(resampleUart(bytes, 115200, 115200)).toEqual(bytes);
  });

  it('reads a byte sent at half the rate as its start bit spilling into the data', () => {
    // 0xFF at 9600 read at 19200: the start bit covers the first two receiver bits, so data
    // bit 0 reads 0; the rest reads 1 and the stop bit is good.
    expect([...resampleUart(Uint8Array.of(0xff), 9600, 19200)]).toEqual([0xfe]);
  });

  it('never delivers a message intact between different standard rates', () => {
    const bytes = randomBytes(64, 2);
    for (const sender of STANDARD_RATES) {
      for (const receiver of STANDARD_RATES) {
        if (sender === receiver) continue;
        expect(resampleUart(bytes, sender, receiver), `${sender} -> ${receiver}`).not.toEqual(
          bytes,
        );
      }
    }
  });

  it('reads fewer bytes at a slower receiver and mostly zeros at a much faster one', () => {
    const bytes = randomBytes(1000, 3);
    const slower = resampleUart(bytes, 115200, 9600);
    expect(slower.length).toBeLessThan(bytes.length / 4);
    const faster = resampleUart(bytes, 9600, 921600);
    const zeros = faster.filter((byte) => byte === 0).length;
    expect(zeros / faster.length).toBeGreaterThan(0.9);
  });

  it('gives the same garbage for the same input', () => {
    const bytes = randomBytes(200, 4);
    expect(resampleUart(bytes, 115200, 57600)).toEqual(resampleUart(bytes, 115200, 57600));
  });
});
