import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  BootSlot,
  ErrorCode,
  REQUEST_KINDS,
  RequestSchema,
  buildRequest,
  buildResponse,
  changesState,
  decodeEvent,
  decodeRequest,
  decodeResponse,
  encodeRequest,
  encodeResponse,
  isIdempotent,
  type RequestKind,
} from './index.js';

describe('service-link messages', () => {
  it('round-trips a request with its authorization through the wire encoding', () => {
    const request = buildRequest(
      'flashData',
      { offset: 8192, data: new Uint8Array([1, 2, 3]) },
      new Uint8Array([9, 9]),
    );
    const decoded = decodeRequest(encodeRequest(request));
    expect(decoded.ok).toBe(true);
    if (!decoded.ok) return;
    expect(decoded.message.serviceAuthorization).toEqual(new Uint8Array([9, 9]));
    expect(decoded.message.body).toMatchObject({
      case: 'flashData',
      value: { offset: 8192, data: new Uint8Array([1, 2, 3]) },
    });
  });

  it('round-trips a response', () => {
    const response = buildResponse('hello', { moduleSerial: 'MSM-1', activeBootSlot: BootSlot.B });
    const decoded = decodeResponse(encodeResponse(response));
    expect(decoded).toMatchObject({
      ok: true,
      message: { body: { case: 'hello', value: { moduleSerial: 'MSM-1', activeBootSlot: 2 } } },
    });
  });

  it('knows for every request kind whether it may be repeated and whether it changes state', () => {
    const kinds = RequestSchema.oneofs[0]!.fields.map((field) => field.localName as RequestKind);
    expect(Object.keys(REQUEST_KINDS).sort()).toEqual([...kinds].sort());
    // the rules PROTOCOL.md states
    expect(isIdempotent('flashData')).toBe(true);
    expect(isIdempotent('flashActivate')).toBe(false);
    expect(isIdempotent('provisionBegin')).toBe(false);
    expect(changesState('selfTestRun')).toBe(true);
    expect(changesState('faultCodesRead')).toBe(false);
    expect(changesState('factoryReset')).toBe(true);
  });

  it('keeps error codes stable (hosts map them to actions)', () => {
    expect(ErrorCode.SUPPLY_VOLTAGE_LOW).toBe(31);
    expect(ErrorCode.AUTHORIZATION_REQUIRED).toBe(10);
  });

  it('never throws on arbitrary bytes, whatever the decoder', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 512 }), (bytes) => {
        for (const decode of [decodeRequest, decodeResponse, decodeEvent]) {
          const result = decode(bytes);
          expect(typeof result.ok).toBe('boolean');
          if (!result.ok) expect(result.reason.length).toBeGreaterThan(0);
        }
      }),
      { numRuns: 2000 },
    );
  });
});
