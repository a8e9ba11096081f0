/**
 * What a UART set to one rate receives from a sender set to another, computed from the waveform
 * rather than made up: the sender's bytes become 8N1 frames (start bit 0, 8 data bits LSB
 * first, stop bit 1), sent back to back; the receiver waits for a falling edge, samples the
 * middle of each of its own bit times and delivers whatever data bits it saw. This is why a
 * faster receiver mostly reads 0x00 (break-like frames) and a slower one reads fewer bytes than
 * were sent, as on a real wire. Framing errors still deliver the sampled byte, as Linux does
 * for a port without INPCK (which `serialport` does not set).
 *
 * Exact integer arithmetic: one sender bit lasts `2 * receiverBaud` ticks and one receiver bit
 * `2 * senderBaud` ticks, so sample points that fall on a bit boundary are decided the same way
 * on every run.
 */
export function resampleUart(
  bytes: Uint8Array,
  senderBaud: number,
  receiverBaud: number,
): Uint8Array {
  if (senderBaud === receiverBaud) return bytes.slice();
  const divisor = gcd(senderBaud, receiverBaud);
  const senderBit = (2 * receiverBaud) / divisor;
  const receiverBit = (2 * senderBaud) / divisor;
  const halfReceiverBit = senderBaud / divisor;
  const bitCount = bytes.length * 10;

  // Line level during sender bit `index`; idle (1) before and after the stream.
  const bitLevel = (index: number): number => {
    if (index < 0 || index >= bitCount) return 1;
    const position = index % 10;
    if (position === 0) return 0;
    if (position === 9) return 1;
    return ((bytes[(index - position) / 10] ?? 0xff) >> (position - 1)) & 1;
  };
  const levelAt = (tick: number): number => bitLevel(Math.floor(tick / senderBit));

  // Index of the sender bit where the next falling edge starts, hunting from sender bit `from`.
  const nextFallingEdge = (from: number, needHighFirst: boolean): number => {
    let index = from;
    if (needHighFirst) while (index < bitCount && bitLevel(index) === 0) index++;
    while (index < bitCount && bitLevel(index) === 1) index++;
    return index;
  };

  const received: number[] = [];
  let edge = nextFallingEdge(0, false);
  while (edge < bitCount) {
    const frameStart = edge * senderBit;
    const sample = (bit: number) => levelAt(frameStart + halfReceiverBit + bit * receiverBit);
    if (sample(0) !== 0) {
      // Low for less than half a receiver bit: a glitch, not a start bit. Hunt on from the
      // sample point, where the line is high.
      edge = nextFallingEdge(Math.floor((frameStart + halfReceiverBit) / senderBit), false);
      continue;
    }
    let value = 0;
    for (let bit = 0; bit < 8; bit++) value |= sample(bit + 1) << bit;
    received.push(value);
    const stopTick = frameStart + halfReceiverBit + 9 * receiverBit;
    // After a good stop bit the receiver hunts for the next start at once; after a framing
    // error (line still low) it first waits for the line to go high.
    edge = nextFallingEdge(Math.floor(stopTick / senderBit), levelAt(stopTick) === 0);
  }
  return Uint8Array.from(received);
}

function gcd(a: number, b: number): number {
  let x = Math.abs(a);
  let y = Math.abs(b);
  while (y !== 0) [x, y] = [y, x % y];
  return x;
}
