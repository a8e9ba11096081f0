import { describe, expect, it } from 'vitest';
import { nextAllowedAt } from './rate-limit.js';

const HOUR = 3_600_000;
const at = (iso: string) => new Date(iso);

describe('nextAllowedAt', () => {
  const now = at('2026-06-01T12:00:00.000Z');

  it('allows at once while fewer than the limit are in the window', () => {
    expect(nextAllowedAt([], 3, HOUR, now)).toBeUndefined();
    expect(
      nextAllowedAt(['2026-06-01T11:59:00.000Z', '2026-06-01T11:10:00.000Z'], 3, HOUR, now),
    ).toBeUndefined();
  });

  it('at the limit, waits until the oldest of the newest `limit` grants leaves the window', () => {
    const newest = [
      '2026-06-01T11:50:00.000Z',
      '2026-06-01T11:30:00.000Z',
      '2026-06-01T11:20:00.000Z',
    ];
    expect(nextAllowedAt(newest, 3, HOUR, now)).toEqual(at('2026-06-01T12:20:00.000Z'));
  });

  it('allows once that time has come', () => {
    expect(nextAllowedAt(['2026-06-01T11:00:00.000Z'], 1, HOUR, now)).toBeUndefined();
  });
});
