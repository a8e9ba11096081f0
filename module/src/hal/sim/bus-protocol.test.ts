import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BUS_METHODS, parseRequest, parseResult, parseServerMessage } from './bus-protocol.js';

describe('parseRequest', () => {
  it('takes a request with or without params', () => {
    expect(parseRequest({ id: 1, method: 'lock' })).toEqual({
      ok: true,
      request: { id: 1, method: 'lock', params: {} },
    });
    expect(parseRequest({ id: 2, method: 'clock.set', params: { nowMs: 1000 } })).toEqual({
      ok: true,
      request: { id: 2, method: 'clock.set', params: { nowMs: 1000 } },
    });
  });

  it.each([
    [null, null, 'invalid-request'],
    [[1, 2], null, 'invalid-request'],
    [{ method: 'lock' }, null, 'invalid-request'],
    [{ id: -1, method: 'lock' }, null, 'invalid-request'],
    [{ id: 1.5, method: 'lock' }, null, 'invalid-request'],
    [{ id: '1', method: 'lock' }, null, 'invalid-request'],
    [{ id: 3, method: 7 }, 3, 'invalid-request'],
    [{ id: 3, method: 'lock', extra: true }, 3, 'invalid-request'],
    [{ id: 3, method: 'lock', params: [] }, 3, 'invalid-request'],
    [{ id: 4, method: 'fly' }, 4, 'unknown-method'],
    [{ id: 4, method: '__proto__' }, 4, 'unknown-method'],
    [{ id: 4, method: 'toString' }, 4, 'unknown-method'],
    [{ id: 5, method: 'lock', params: { force: true } }, 5, 'invalid-params'],
    [{ id: 5, method: 'clock.set', params: {} }, 5, 'invalid-params'],
    [{ id: 5, method: 'clock.set', params: { nowMs: '1' } }, 5, 'invalid-params'],
    [{ id: 5, method: 'clock.set', params: { nowMs: -1 } }, 5, 'invalid-params'],
    [{ id: 5, method: 'clock.set', params: { nowMs: 1e300 } }, 5, 'invalid-params'],
  ])('refuses %j (id %j) with %s', (value, id, code) => {
    const parsed = parseRequest(value);
    expect(parsed.ok).toBe(false);
    if (parsed.ok) return;
    expect(parsed.id).toBe(id);
    expect(parsed.error.code).toBe(code);
    expect(parsed.error.message.length).toBeGreaterThan(0);
  });

  it('fuzz: never throws on any JSON value', () => {
    const method = fc.constantFrom(...Object.keys(BUS_METHODS), 'nope', '');
    const request = fc.record(
      { id: fc.oneof(fc.nat(), fc.jsonValue()), method, params: fc.jsonValue() },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(fc.oneof(fc.jsonValue(), request), (value) => {
        const parsed = parseRequest(value);
        expect(typeof parsed.ok).toBe('boolean');
      }),
      { numRuns: 2000 },
    );
  });
});

describe('parseServerMessage', () => {
  it('tells results, errors and events apart and checks events fully', () => {
    expect(parseServerMessage({ id: 1, result: { millivolts: 12_600 } })).toEqual({
      ok: true,
      message: { kind: 'result', id: 1, result: { millivolts: 12_600 } },
    });
    expect(
      parseServerMessage({ id: null, error: { code: 'line-too-long', message: 'dropped' } }),
    ).toMatchObject({ ok: true, message: { kind: 'error', id: null } });
    expect(parseServerMessage({ event: 'lock', data: { locked: true } })).toEqual({
      ok: true,
      message: { kind: 'event', event: { event: 'lock', data: { locked: true } } },
    });
    expect(parseServerMessage({ event: 'lock', data: { locked: 'yes' } }).ok).toBe(false);
    expect(parseServerMessage({ event: 'explode', data: {} }).ok).toBe(false);
    expect(parseServerMessage({ id: 1, error: { code: 'made-up', message: '' } }).ok).toBe(false);
    expect(parseServerMessage('hello').ok).toBe(false);
  });

  it('a result is checked against its method', () => {
    expect(parseResult('supply.read', { millivolts: 12_600 }).ok).toBe(true);
    expect(parseResult('supply.read', { millivolts: -5 }).ok).toBe(false);
    expect(parseResult('gnss.read', { fix: false }).ok).toBe(true);
    expect(parseResult('gnss.read', { fix: false, latitude: 1 }).ok).toBe(false);
    expect(parseResult('gnss.read', { fix: 'maybe' }).ok).toBe(false);
  });

  it('fuzz: never throws on any JSON value', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        expect(typeof parseServerMessage(value).ok).toBe('boolean');
        expect(typeof parseResult('state.read', value).ok).toBe('boolean');
      }),
      { numRuns: 2000 },
    );
  });
});
