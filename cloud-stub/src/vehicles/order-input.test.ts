import { describe, expect, it } from 'vitest';
import { readVehicleOrderInput } from './order-input.js';

const input = {
  model: 'MINI Cooper S Hardtop 2 Door',
  market: 'US',
  productionDate: '2023-01-16',
  optionCodes: ['s5ge', '6AC', '$2VB', '6AC'],
};

describe('reading a vehicle order', () => {
  it('normalises the VIN and the option codes', () => {
    expect(readVehicleOrderInput(' wmw53dh05p2t41785 ', input)).toEqual({
      ok: true,
      order: {
        vin: 'WMW53DH05P2T41785',
        model: 'MINI Cooper S Hardtop 2 Door',
        market: 'US',
        productionDate: '2023-01-16',
        optionCodes: ['2VB', '5GE', '6AC'],
      },
    });
  });

  it('checks the VIN for its market (US check digit) and lists every problem', () => {
    const result = readVehicleOrderInput('WMW53DH06P2T41785', {
      ...input,
      productionDate: '2023-02-30',
      optionCodes: ['5GE', 'not a code'],
    });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.problems.map((p) => p.field).sort()).toEqual([
      'optionCodes',
      'productionDate',
      'vin',
    ]);
    expect(result.problems.find((p) => p.field === 'vin')?.message).toMatch(/check digit/);
  });

  it('refuses a market that is not an ISO country code', () => {
    const result = readVehicleOrderInput('WMW31DH0302S71642', { ...input, market: 'Germany' });
    expect(result).toMatchObject({ ok: false, problems: [{ field: 'market' }] });
  });
});
