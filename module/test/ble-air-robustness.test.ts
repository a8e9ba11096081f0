// What arrives at a virtual controller's port is untrusted: garbage, hostile streams and hosts
// that stop reading must neither crash the air nor grow its memory.
import { closeSync, constants, openSync, writeSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { encodeCommand, SerialPortProbe, VirtualAir } from '../sim/index.js';
import { seededRandom } from '../sim/serial-line/prng.js';

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const RESET = encodeCommand(0x0c03);
const RESET_COMPLETE = '040e0401030c00';
const MAX_BACKLOG_BYTES = 64 * 1024;

async function startAir(controllers: number, timeScale: number): Promise<VirtualAir> {
  const air = await VirtualAir.start({ controllers, timeScale });
  cleanups.push(() => air.close());
  return air;
}

async function openHost(path: string): Promise<SerialPortProbe> {
  const probe = await SerialPortProbe.open(path, 1_000_000);
  cleanups.push(() => probe.close());
  return probe;
}

/** Reads until `hex` arrives; returns how many bytes came before it. */
async function readUntil(probe: SerialPortProbe, hex: string, timeoutMs = 5_000): Promise<number> {
  let seen = '';
  for (const started = Date.now(); !seen.includes(hex);) {
    if (Date.now() - started > timeoutMs) throw new Error(`no ${hex} within ${timeoutMs} ms`);
    seen += probe.readAll().toString('hex');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  return seen.indexOf(hex) / 2;
}

async function until(condition: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  for (const started = Date.now(); !condition();) {
    if (Date.now() - started > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** The commands that make a controller advertise every 20 ms (the shortest legacy interval). */
function advertiseCommands(name: string): Uint8Array[] {
  const data = Buffer.concat([Buffer.of(name.length + 1, 0x09), Buffer.from(name)]);
  const padded = (bytes: Buffer) =>
    Uint8Array.from([bytes.length, ...bytes, ...Buffer.alloc(31 - bytes.length)]);
  return [
    RESET,
    encodeCommand(0x2006, Uint8Array.of(0x20, 0, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7, 0)),
    encodeCommand(0x2008, padded(data)),
    encodeCommand(0x2009, padded(data)),
    encodeCommand(0x200a, Uint8Array.of(1)),
  ];
}

/** Reset, LE Meta on, active scanning that reports every advertisement (no duplicate filter). */
const SCAN_WITH_DUPLICATES = [
  RESET,
  encodeCommand(0x0c01, Uint8Array.of(0xff, 0xff, 0xfb, 0xff, 0x07, 0xf8, 0xbf, 0x3d)),
  encodeCommand(0x2001, Uint8Array.of(0x1f, 0, 0, 0, 0, 0, 0, 0)),
  encodeCommand(0x200b, Uint8Array.of(1, 0x12, 0, 0x12, 0, 0, 0)),
  encodeCommand(0x200c, Uint8Array.of(1, 0)),
];

describe('virtual controller ports under bad input', () => {
  it('skips a garbled, hostile stream and answers the next host that resets', async () => {
    const air = await startAir(1, 0.1);
    const host = await openHost(air.port(0));
    const random = seededRandom(7);
    const garbage = Uint8Array.from({ length: 64 * 1024 }, () => Math.floor(random() * 256));
    await host.write(garbage);
    await until(() => air.stats(0).skippedBytes > 0, 'the air to read the garbage');
    // Whatever half packet the garbage ended in is abandoned after a pause (100 ms).
    await new Promise((resolve) => setTimeout(resolve, 200));
    host.readAll();
    await host.write(RESET);
    await readUntil(host, RESET_COMPLETE);
    const stats = air.stats(0);
    expect(stats.skippedBytes).toBeGreaterThan(1_000);
    expect(stats.backlogBytes).toBeLessThanOrEqual(MAX_BACKLOG_BYTES);
  });

  it('bounds what waits for a host that stops reading, and drops it once the host is gone', async () => {
    // Four advertisers every 20 ms, a hundred times faster: a flood of reports for the scanner.
    const air = await startAir(5, 0.01);
    for (let index = 1; index <= 4; index++) {
      const advertiser = await openHost(air.port(index));
      for (const command of advertiseCommands(`FLOOD-${index}`)) await advertiser.write(command);
    }
    // The scanner's host writes its commands and never reads.
    const fd = openSync(air.port(0), constants.O_RDWR | constants.O_NOCTTY);
    cleanups.push(() => closeSync(fd));
    for (const command of SCAN_WITH_DUPLICATES) writeSync(fd, command);

    await until(() => air.stats(0).droppedPackets > 0, 'packets to be dropped for the stuck host');
    expect(air.stats(0).backlogBytes).toBeLessThanOrEqual(MAX_BACKLOG_BYTES);
    // Two seconds without progress: the host is gone and what waited is dropped.
    await until(() => air.stats(0).backlogBytes === 0, 'the stale backlog to be dropped');

    // A new host opens the port (serialport flushes it) and resets: it is answered.
    closeSync(fd);
    cleanups.pop();
    const next = await openHost(air.port(0));
    await next.write(RESET);
    await readUntil(next, RESET_COMPLETE);
  });
});

// Issue #4: a host that restarts on the same port (nothing tells the air: socat keeps the pty
// open) must get its Reset answered, whatever the old host left behind.
describe('a host restarting on a port its previous host left dirty', () => {
  it('answers its Reset ahead of the backlog the previous host never read', async () => {
    const air = await startAir(5, 0.01);
    for (let index = 1; index <= 4; index++) {
      const advertiser = await openHost(air.port(index));
      for (const command of advertiseCommands(`FLOOD-${index}`)) await advertiser.write(command);
    }
    const fd = openSync(air.port(0), constants.O_RDWR | constants.O_NOCTTY);
    for (const command of SCAN_WITH_DUPLICATES) writeSync(fd, command);
    await until(() => air.stats(0).droppedPackets > 0, 'the backlog to fill up');
    // The host dies and another opens the port at once, well before the air could tell.
    closeSync(fd);
    const next = await openHost(air.port(0));
    await next.write(RESET);
    // Before: the answer queued behind 64 KB of reports for the old host, or was dropped as
    // one packet too many (then the UART driver waits for ever). Now what waited is dropped
    // and only what socat already had comes first (the scan goes on until the Reset lands).
    const staleBytes = await readUntil(next, RESET_COMPLETE);
    expect(staleBytes).toBeLessThan(MAX_BACKLOG_BYTES / 4);
    expect(air.stats(0).stalePackets).toBeGreaterThan(0);
  });

  it("does not let half a packet from the dead host swallow the new host's Reset", async () => {
    const air = await startAir(1, 0.1);
    const dying = await openHost(air.port(0));
    // LE Set Advertising Parameters announces 15 parameter bytes; only 5 arrive.
    await dying.write(Uint8Array.of(0x01, 0x06, 0x20, 0x0f, 0x20, 0x00, 0x20, 0x00, 0x00));
    // (Had it not reached the air yet, the next opener's flush would take it out of the pty.)
    await until(() => air.stats(0).pendingBytes === 9, 'the air to hold the half packet');
    await dying.close();
    const next = await openHost(air.port(0));
    await next.write(RESET);
    // Before: the Reset filled the half packet, no answer came, and the UART driver, which
    // never repeats its Reset, waited for ever.
    await readUntil(next, RESET_COMPLETE, 2_000);
    expect(air.stats(0).commands).toBe(1);
    expect(air.stats(0).abandonedPackets).toBe(1);
  });
});
