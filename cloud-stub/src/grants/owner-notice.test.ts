import { describe, expect, it } from 'vitest';
import { ownerNotice, ownerTime } from './owner-notice.js';

const facts = {
  grantId: 'ab'.repeat(16),
  vin: 'WMW31DH0302S71642',
  serial: 'MSM-24-001234-3',
  dealer: { id: 'DLR-1', name: 'MINI One' },
  station: { id: 'STN-1', name: 'Bay 3' },
  notBefore: new Date('2026-06-01T12:00:00.000Z'),
  notAfter: new Date('2026-06-01T12:15:00.000Z'),
};

describe('owner notices', () => {
  it('formats times the same on every machine', () => {
    expect(ownerTime(new Date('2026-01-09T07:05:59.000Z'))).toBe('9 January 2026, 07:05 UTC');
  });

  it('says who, what and until when for a test key, and what to do if unexpected', () => {
    const notice = ownerNotice({ ...facts, kind: 'test-key', scope: ['unlock', 'lock'] });
    expect(notice.kind).toBe('workshop-test-key');
    expect(notice.message).toBe(
      'MINI One (workshop station "Bay 3") received a workshop test key for your car ' +
        'WMW31DH0302S71642: it can unlock and lock the car (it cannot start or drive it) until ' +
        '1 June 2026, 12:15 UTC. If you did not bring your car to a workshop, contact the MINI ' +
        'Sharing call centre.',
    );
    expect(notice.details).toMatchObject({ dealerId: 'DLR-1', stationName: 'Bay 3' });
  });

  it('lists the service operations in words', () => {
    const notice = ownerNotice({
      ...facts,
      kind: 'service-authorization',
      scope: ['flash', 'clear-faults', 'factory-reset'],
    });
    expect(notice.kind).toBe('service-authorization');
    expect(notice.message).toContain(
      'it may install new software on the sharing module, clear stored fault codes and reset ' +
        'the sharing module to factory settings.',
    );
  });
});
