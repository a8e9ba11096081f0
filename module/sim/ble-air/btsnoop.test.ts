import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { BtsnoopWriter, parseBtsnoop } from './btsnoop.js';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function tracePath(): string {
  const dir = mkdtempSync(join(tmpdir(), 'btsnoop-'));
  dirs.push(dir);
  return join(dir, 'trace.btsnoop');
}

describe('btsnoop trace', () => {
  it('writes the header and records Wireshark expects (golden bytes)', () => {
    const path = tracePath();
    const trace = new BtsnoopWriter(path);
    trace.write('hostToController', Uint8Array.of(0x01, 0x03, 0x0c, 0x00), 1_700_000_000_000_000);
    trace.write(
      'controllerToHost',
      Uint8Array.of(0x04, 0x0e, 0x04, 0x01, 0x03, 0x0c, 0x00),
      1_700_000_000_000_250,
    );
    trace.close();
    const file = readFileSync(path).toString('hex');
    // "btsnoop\0", version 1, datalink 1002 (H4)
    expect(file.slice(0, 32)).toBe('6274736e6f6f7000' + '00000001' + '000003ea');
    // lengths 4/4, flags 2 (sent command), no drops, time in µs since 0 AD, the packet
    expect(file.slice(32, 32 + 56)).toBe(
      '00000004' + '00000004' + '00000002' + '00000000' + '00e2e7d7274dc000' + '01030c00',
    );
    expect(parseBtsnoop(readFileSync(path))).toEqual([
      {
        direction: 'hostToController',
        packet: Uint8Array.of(1, 3, 0x0c, 0),
        unixMicros: 1_700_000_000_000_000,
      },
      {
        direction: 'controllerToHost',
        packet: Uint8Array.of(4, 0x0e, 4, 1, 3, 0x0c, 0),
        unixMicros: 1_700_000_000_000_250,
      },
    ]);
  });

  it('refuses files that are not H4 btsnoop traces', () => {
    expect(() => parseBtsnoop(Buffer.from('not a trace at all'))).toThrow(/bad magic/);
  });
});
