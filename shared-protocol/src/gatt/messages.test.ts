import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  KEY_LINK_KINDS,
  RESULT_CODE_FOR_COMMAND_REASON,
  RESULT_CODE_FOR_POLICY_REASON,
  RESULT_CODE_FOR_REVOCATION_REASON,
  ResultCode,
  buildKeyLinkMessage,
  buildResult,
  decodeKeyLinkMessage,
  encodeKeyLinkMessage,
  type KeyLinkMessage,
} from './messages.js';
import { KEY_LINK_MAX_MESSAGE_SIZE } from './framing.js';

const bytesArb = (min = 1) => fc.uint8Array({ minLength: min, maxLength: 300 });
const nonceArb = fc.uint8Array({ minLength: 16, maxLength: 16 });
const u64Arb = fc.bigInt({ min: 0n, max: 2n ** 64n - 1n });
const carStateArb = fc.record({
  locked: fc.boolean(),
  allClosed: fc.boolean(),
  ignitionOn: fc.boolean(),
  driveEnabled: fc.boolean(),
});
const challengeArb = fc.record({
  nonce: nonceArb,
  validForMs: fc.nat(),
  moduleTimeMs: u64Arb,
  revocationListSequence: u64Arb,
});
const codeArb = fc.constantFrom(
  ...Object.values(ResultCode).filter(
    (v): v is ResultCode => typeof v === 'number' && v !== ResultCode.UNSPECIFIED,
  ),
);

const messageArb: fc.Arbitrary<KeyLinkMessage> = fc
  .tuple(
    fc.nat(0xffffffff),
    fc.oneof(
      bytesArb().map((token) => buildKeyLinkMessage('presentToken', { token })),
      fc.constant(buildKeyLinkMessage('challengeRequest', {})),
      challengeArb.map((c) => buildKeyLinkMessage('challenge', c)),
      bytesArb().map((command) => buildKeyLinkMessage('command', { command })),
      fc
        .record({ code: codeArb, message: fc.string(), carState: carStateArb })
        .map((r) => buildKeyLinkMessage('result', r)),
      bytesArb().map((revocationList) =>
        buildKeyLinkMessage('revocationListRelay', { revocationList }),
      ),
      fc.constant(buildKeyLinkMessage('statusRequest', {})),
      fc
        .record({ carState: carStateArb, accessEndsAtMs: u64Arb })
        .map((s) => buildKeyLinkMessage('status', s)),
    ),
  )
  .map(([requestId, message]) => ({ ...message, requestId }));

describe('key link messages', () => {
  it('round-trip every kind', () => {
    fc.assert(
      fc.property(messageArb, (message) => {
        const decoded = decodeKeyLinkMessage(encodeKeyLinkMessage(message));
        expect(decoded).toEqual({ ok: true, message });
      }),
    );
  });

  it('decoding never throws, whatever the bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 5000 }), (bytes) => {
        const decoded = decodeKeyLinkMessage(bytes);
        if (!decoded.ok) expect(typeof decoded.reason).toBe('string');
      }),
      { numRuns: 500 },
    );
  });

  it('refuses a message of the wrong shape', () => {
    const refused = (message: KeyLinkMessage) =>
      decodeKeyLinkMessage(encodeKeyLinkMessage(message)).ok;
    expect(refused(buildKeyLinkMessage('presentToken', { token: new Uint8Array(0) }))).toBe(false);
    expect(refused(buildKeyLinkMessage('command', {}))).toBe(false);
    expect(refused(buildKeyLinkMessage('revocationListRelay', {}))).toBe(false);
    expect(refused(buildKeyLinkMessage('challenge', { nonce: new Uint8Array(15) }))).toBe(false);
    expect(refused(buildKeyLinkMessage('result', {}))).toBe(false);
    // no body: an empty message, or only a request id
    expect(decodeKeyLinkMessage(new Uint8Array([0x08, 0x01])).ok).toBe(false);
    expect(decodeKeyLinkMessage(new Uint8Array(KEY_LINK_MAX_MESSAGE_SIZE + 1)).ok).toBe(false);
  });

  it('a result echoes the request id', () => {
    const result = buildResult(77, ResultCode.REVOKED, 'Key 00… has been revoked');
    expect(result.requestId).toBe(77);
    expect(result.body).toMatchObject({ case: 'result', value: { code: ResultCode.REVOKED } });
  });

  it('every refusal code is reachable from a reason, and each direction is stated', () => {
    const mapped = new Set<number>([
      ...Object.values(RESULT_CODE_FOR_COMMAND_REASON),
      ...Object.values(RESULT_CODE_FOR_REVOCATION_REASON),
      ...Object.values(RESULT_CODE_FOR_POLICY_REASON),
    ]);
    const codes = Object.values(ResultCode).filter((v) => typeof v === 'number');
    const unmapped = codes.filter(
      (code) => code !== ResultCode.UNSPECIFIED && code !== ResultCode.OK && !mapped.has(code),
    );
    expect(unmapped).toEqual([]);
    expect(Object.keys(KEY_LINK_KINDS).sort()).toEqual(
      [
        'challenge',
        'challengeRequest',
        'command',
        'presentToken',
        'result',
        'revocationListRelay',
        'status',
        'statusRequest',
      ].sort(),
    );
  });
});
