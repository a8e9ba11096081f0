import { describe, expect, it } from 'vitest';
import { readModuleConfig } from './config.js';

const base = {
  moduleSerial: 'MSM-24-001234-3',
  hardwareRevision: 'HW-C',
  storageDir: '/flash',
  serialPort: '/dev/ttyGS0',
  vehicleBus: '/run/vbus.sock',
};
const read = (config: object) => readModuleConfig(JSON.stringify(config));

describe('the module configuration', () => {
  it('takes an optional Bluetooth controller port; without one the module has no key link', () => {
    expect(read(base).blePort).toBeUndefined();
    expect(read({ ...base, blePort: '/dev/ttyS1' }).blePort).toBe('/dev/ttyS1');
  });

  it('refuses a Bluetooth port that is not an absolute device path', () => {
    for (const blePort of ['', 'ble-0', 42, null]) {
      expect(() => read({ ...base, blePort })).toThrow(/blePort must be an absolute device path/);
    }
  });

  it('passes on only what it knows', () => {
    expect(read({ ...base, extra: 'ignored' })).toEqual(base);
  });
});
