import { describe, expect, it } from 'vitest';
import { describeIneligibility } from '@mini-sharing/shared-protocol/vehicle';
import { judgeEligibility } from './eligibility.js';

const order = (optionCodes: string[]) => ({
  vin: 'WMW31DH0302S71642',
  model: 'MINI Cooper SE',
  market: 'DE',
  productionDate: '2024-03-12',
  optionCodes,
});

describe('eligibility by VIN', () => {
  it('is eligible with 5GE in the order', () => {
    expect(judgeEligibility(order(['5GE', '6AC']))).toEqual({
      vin: 'WMW31DH0302S71642',
      eligible: true,
      reasons: [],
      checked: { vehicleOrder: true, carCoding: false },
      orderOptionCodes: ['5GE', '6AC'],
    });
  });

  it('is not eligible without 5GE, in the shared rule’s words', () => {
    const answer = judgeEligibility(order(['6AC']));
    expect(answer.eligible).toBe(false);
    expect(answer.reasons).toEqual([
      { reason: 'no-5ge-in-order', message: describeIneligibility('no-5ge-in-order') },
    ]);
  });

  it('adds the car’s coding when the caller read it, and lists every reason', () => {
    expect(judgeEligibility(order(['6AC']), ['5GE']).reasons.map((r) => r.reason)).toEqual([
      'no-5ge-in-order',
      'order-and-car-disagree',
    ]);
    expect(judgeEligibility(order(['5GE']), ['6AC']).reasons.map((r) => r.reason)).toEqual([
      'no-5ge-in-car-coding',
      'order-and-car-disagree',
    ]);
    expect(judgeEligibility(order(['5GE']), ['5GE'])).toMatchObject({
      eligible: true,
      checked: { carCoding: true },
    });
  });

  it('leaves the dealer-installed module to registration', () => {
    const reasons = judgeEligibility(order(['5GE'])).reasons.map((r) => r.reason);
    expect(reasons).not.toContain('no-dealer-installed-module');
    expect(reasons).not.toContain('car-coding-not-read');
  });
});
