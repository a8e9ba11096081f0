import { describe, expect, it } from 'vitest';
import { ReplayCache } from './replay-cache.js';

const id = (n: number) => new Uint8Array(16).fill(n);

describe('ReplayCache', () => {
  it('remembers ids', () => {
    const cache = new ReplayCache(4);
    const times = { issuedAtMs: 100, expiresAtMs: 200, nowMs: 100 };
    expect(cache.seen(id(1), times)).toBe(false);
    expect(cache.seen(id(1), times)).toBe(true);
    expect(cache.seen(id(2), times)).toBe(false);
    expect(cache.size).toBe(2);
  });

  it('forgets expired ids first when full', () => {
    const cache = new ReplayCache(2);
    cache.seen(id(1), { issuedAtMs: 100, expiresAtMs: 150, nowMs: 100 });
    cache.seen(id(2), { issuedAtMs: 110, expiresAtMs: 300, nowMs: 110 });
    expect(cache.seen(id(3), { issuedAtMs: 160, expiresAtMs: 300, nowMs: 160 })).toBe(false);
    expect(cache.size).toBe(2);
    expect(cache.floorMs).toBe(-Infinity);
    expect(cache.seen(id(2), { issuedAtMs: 110, expiresAtMs: 300, nowMs: 170 })).toBe(true);
  });

  it('when full of live ids, forgets the oldest and refuses everything issued up to it', () => {
    const cache = new ReplayCache(3);
    for (let n = 1; n <= 3; n++) cache.seen(id(n), { issuedAtMs: n * 10, expiresAtMs: 1000 });
    expect(cache.seen(id(4), { issuedAtMs: 40, expiresAtMs: 1000 })).toBe(false);
    expect(cache.size).toBe(3);
    expect(cache.floorMs).toBe(10);
    // The forgotten id cannot be replayed: it is at the floor.
    expect(cache.seen(id(1), { issuedAtMs: 10, expiresAtMs: 1000 })).toBe(true);
    // A new id older than the floor is refused too; a newer one is fine.
    expect(cache.seen(id(9), { issuedAtMs: 5, expiresAtMs: 1000 })).toBe(true);
    expect(cache.seen(id(9), { issuedAtMs: 50, expiresAtMs: 1000 })).toBe(false);
  });

  it('needs a capacity of at least one', () => {
    expect(() => new ReplayCache(0)).toThrow(RangeError);
  });
});
