import { describe, expect, it } from 'vitest';
import { EXAMPLE_FLEET_JSON, exampleFleet } from './example-fleet.js';
import { formatFleetFileError, parseFleetFile } from './fleet-file.js';
import { isMiniWmi } from './wmi.js';
import { validateVin } from './vin.js';

const car = {
  vin: 'WMW31DH0302S71642',
  model: 'MINI Cooper SE 3-door',
  market: 'DE',
  productionDate: '2024-03-12',
  optionCodes: ['5GE'],
};

function errorsOf(input: unknown): string[] {
  const result = parseFleetFile(input);
  return result.ok ? [] : result.errors.map(formatFleetFileError);
}

describe('parseFleetFile', () => {
  it('reads JSON text or parsed data and normalises VINs and option codes', () => {
    const raw = {
      version: 1,
      vehicles: [
        {
          ...car,
          vin: 'wmw31dh0302s71642',
          optionCodes: ['6ac', '5GE', '5ge'],
          moduleHardware: { hardwareRevision: 'c', moduleSerial: 'msm240012343' },
          fuel: 'electric',
        },
      ],
    };
    for (const input of [raw, JSON.stringify(raw)]) {
      const result = parseFleetFile(input);
      expect(result).toEqual({
        ok: true,
        fleet: {
          version: 1,
          vehicles: [
            {
              ...car,
              optionCodes: ['5GE', '6AC'],
              moduleHardware: { hardwareRevision: 'HW-C', moduleSerial: 'MSM-24-001234-3' },
              fuel: 'electric',
            },
          ],
        },
      });
    }
  });

  it('reports bad JSON without throwing', () => {
    expect(errorsOf('{"version": 1,')[0]).toMatch(/^fleet file: not valid JSON/);
    expect(errorsOf([])).toEqual(['fleet file: must be a JSON object, is an array']);
  });

  it('names the path of every error at once', () => {
    // prettier-ignore
    const errors = errorsOf({
      version: 2,
      extra: true,
      vehicles: [
        car,
        { ...car, vin: '5UXTY5C05R9U31709', market: 'US' },
        { ...car, vin: 'WMW31DH03I2S71642', productionDate: '2023-02-30', colour: 'red' },
        { ...car, vin: 'WMW51DK0X02R13377', optionCodes: ['5GE', '5G'], fuel: 'coal' },
        { ...car, vin: 'WMZ21GA0707T90415', model: '', market: 'deu', optionCodes: '5GE' },
        { ...car, vin: 'WMW53DH05P2T41785', moduleHardware: { hardwareRevision: 'HW-Z', moduleSerial: 'MSM-24-001235-3' } },
        42,
        { vin: 17 },
      ],
    });
    expect(errors).toEqual([
      'extra: unknown property',
      'version: must be 1, is 2',
      'vehicles[1].vin: check digit mismatch: character 9 is 5, the VIN calls for X',
      'vehicles[2].colour: unknown property',
      'vehicles[2].vin: character 10 is "I", not allowed in a VIN (I is never used; it is probably the digit 1)',
      'vehicles[2].productionDate: must be a date YYYY-MM-DD, is "2023-02-30"',
      'vehicles[3].optionCodes: not option codes: "5G"',
      'vehicles[3].fuel: must be one of petrol, diesel, electric, plug-in-hybrid, is "coal"',
      'vehicles[4].market: must be an ISO 3166-1 alpha-2 code such as "DE", is "deu"',
      'vehicles[4].model: must not be empty',
      'vehicles[4].optionCodes: must be an array of strings, is a string',
      'vehicles[5].moduleHardware.hardwareRevision: unknown revision "HW-Z"',
      'vehicles[5].moduleHardware.moduleSerial: check character mismatch: the last character is 3, the digits call for 1',
      'vehicles[6]: must be an object, is a number',
      'vehicles[7].market: is missing',
      'vehicles[7].vin: must be a string, is a number',
      'vehicles[7].model: is missing',
      'vehicles[7].productionDate: is missing',
      'vehicles[7].optionCodes: must be an array of strings, is missing',
    ]);
  });

  it('checks the check digit of US-market cars built elsewhere', () => {
    expect(errorsOf({ version: 1, vehicles: [{ ...car, market: 'US' }] })).toEqual([
      'vehicles[0].vin: check digit mismatch: character 9 is 3, the VIN calls for 1',
    ]);
  });

  it('rejects duplicate VINs (in any spelling) and a module fitted to two cars', () => {
    const module = { hardwareRevision: 'HW-C', moduleSerial: 'MSM-24-001234-3' };
    expect(
      errorsOf({
        version: 1,
        vehicles: [
          { ...car, moduleHardware: module },
          { ...car, vin: car.vin.toLowerCase() },
          {
            ...car,
            vin: 'WMZ21GA0707T90415',
            moduleHardware: { ...module, moduleSerial: '240012343' },
          },
        ],
      }),
    ).toEqual([
      'vehicles[1].vin: duplicate VIN WMW31DH0302S71642, already in vehicles[0]',
      'vehicles[2].moduleHardware.moduleSerial: module MSM-24-001234-3 is already fitted to vehicles[0]',
    ]);
  });
});

describe('example fleet', () => {
  it('is valid and covers what the simulated workshop needs', () => {
    expect(parseFleetFile(EXAMPLE_FLEET_JSON).ok).toBe(true);
    const { vehicles } = exampleFleet();
    const has5ge = (v: (typeof vehicles)[number]) => v.optionCodes.includes('5GE');
    expect(vehicles.some(has5ge)).toBe(true);
    expect(vehicles.some((v) => !has5ge(v) && isMiniWmi(v.vin))).toBe(true);
    expect(vehicles.some((v) => has5ge(v) && v.moduleHardware !== undefined)).toBe(true);
    expect(vehicles.some((v) => has5ge(v) && v.moduleHardware === undefined)).toBe(true);
    const verdicts = vehicles.map((v) => validateVin(v.vin));
    expect(verdicts.some((r) => r.ok && r.region === 'north-america' && r.checkDigitVerified)).toBe(
      true,
    );
    expect(verdicts.some((r) => r.ok && r.region === 'europe' && isMiniWmi(r.vin))).toBe(true);
  });

  it('hands out a fresh copy each time', () => {
    const first = exampleFleet();
    first.vehicles[0]?.optionCodes.push('XXX');
    expect(exampleFleet().vehicles[0]?.optionCodes).not.toContain('XXX');
  });
});
