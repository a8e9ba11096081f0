import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ErrorCode, type RequestKind } from '@mini-sharing/shared-protocol/messages';
import { RTC_RESET_MS } from '../hal/index.js';
import { TEST_NOW_MS } from '@mini-sharing/shared-protocol/trust/test-fixtures';
import { ServiceOperation } from '@mini-sharing/shared-protocol/trust';
import { CHALLENGE_VALID_MS } from './authorization.js';
import {
  authorize,
  openServiceKit,
  provision,
  refusal,
  snapshot,
  type ServiceKit,
} from './service-test-kit.js';

/**
 * Every state-changing request, with a value its handler would accept or refuse by itself. The
 * factory reset names `resetSerial`: the module's own where a wrongly passed guard would show (the
 * module would be wiped), another where the handler's own refusal shows the guard let it through.
 */
const stateChanging = (resetSerial: string): Array<[RequestKind, object]> => [
  ['flashBegin', {}],
  ['flashData', { offset: 0, data: new Uint8Array(16) }],
  ['flashEnd', {}],
  ['flashActivate', {}],
  ['flashConfirm', {}],
  ['provisionBegin', { cloudNonce: new Uint8Array(32).fill(3) }],
  ['provisionCommit', {}],
  ['selfTestRun', { testIds: ['central-lock-actuation'] }],
  ['faultCodesClear', {}],
  ['factoryReset', { confirmModuleSerial: resetSerial }],
];
const OTHER_SERIAL = 'MSM-24-000001-1';

const AUTHORIZATION_CODES = [ErrorCode.AUTHORIZATION_REQUIRED, ErrorCode.AUTHORIZATION_INVALID];

let kit: ServiceKit;
/** What the module did to the car (lock, unlock), as the car saw it. */
let moduleActions: string[];
beforeEach(async () => {
  kit = await openServiceKit();
  moduleActions = [];
  kit.vehicle.on('lock', ({ locked, by }) => {
    if (by === 'module') moduleActions.push(locked ? 'lock' : 'unlock');
  });
  kit.vehicle.on('immobilizer', ({ released }) =>
    moduleActions.push(released ? 'release' : 'engage'),
  );
});
afterEach(() => kit.close());

const send = (kind: RequestKind, value: object, proof?: Uint8Array) =>
  kit.host.request(kind, value as never, proof ? { serviceAuthorization: proof } : {});

/** Sends each request; the outcome per kind: 'ok' or the error code's name. */
async function outcomes(requests: Array<[RequestKind, object]>, proof?: Uint8Array) {
  const results: Record<string, string> = {};
  for (const [kind, value] of requests) {
    results[kind] = await send(kind, value, proof).then(
      () => 'ok',
      (error: { code?: ErrorCode }) => ErrorCode[error.code ?? ErrorCode.UNSPECIFIED] ?? 'unknown',
    );
  }
  return results;
}

/** Sends every state-changing request; each must be refused so, and nothing may change. */
async function expectAllRefused(
  proof: () => Promise<Uint8Array | undefined>,
  code: ErrorCode,
  reason: string,
) {
  const before = await snapshot(kit.dir);
  const identity = kit.identity.identityPublicKey;
  for (const [kind, value] of stateChanging(kit.fx.moduleSerial)) {
    const error = await refusal(send(kind, value, await proof()));
    expect({ kind, code: ErrorCode[error.code], reason: error.details.reason }).toEqual({
      kind,
      code: ErrorCode[code],
      reason,
    });
  }
  // Nothing ran: no stored byte changed (the fault memory still holds its code), the car did
  // not move, the identity is the same.
  expect(await snapshot(kit.dir)).toEqual(before);
  expect(moduleActions).toEqual([]);
  expect(kit.faults.faults.map((f) => f.code)).toEqual(['B1C51']);
  expect(kit.identity.identityPublicKey).toEqual(identity);
}

describe('service authorization on an unprovisioned module', () => {
  it('accepts every request without authorization', async () => {
    const results = await outcomes(stateChanging(OTHER_SERIAL));
    for (const [kind, result] of Object.entries(results)) {
      expect(
        AUTHORIZATION_CODES.map((c) => ErrorCode[c]),
        kind,
      ).not.toContain(result);
    }
    // The handlers ran: the lock test moved the car (and left it locked, as it was), the clear
    // answered, and the reset refused the other module's serial by itself.
    expect(results).toMatchObject({
      selfTestRun: 'ok',
      faultCodesClear: 'ok',
      factoryReset: 'BAD_REQUEST',
    });
    expect(moduleActions).toEqual(['unlock', 'lock']);
  });

  it('issues fresh 32-byte challenges', async () => {
    const a = await kit.host.request('moduleChallenge', {});
    const b = await kit.host.request('moduleChallenge', {});
    expect(a.nonce).toHaveLength(32);
    expect(a.nonce).not.toEqual(b.nonce);
    expect(a.validForMs).toBe(CHALLENGE_VALID_MS);
    expect(Number(a.issuedAtMs)).toBe(TEST_NOW_MS);
  });
});

describe('service authorization on a provisioned module', () => {
  beforeEach(async () => {
    await provision(kit);
    await kit.faults.update({ detected: ['B1C51'] });
    kit.reconnect();
  });

  it('refuses every state-changing request without authorization', async () => {
    await expectAllRefused(async () => undefined, ErrorCode.AUTHORIZATION_REQUIRED, 'missing');
  });

  it('refuses an expired authorization', async () => {
    await expectAllRefused(
      () => authorize(kit, { issuedAtMs: TEST_NOW_MS - 31 * 60_000, validForMs: 30 * 60_000 }),
      ErrorCode.AUTHORIZATION_INVALID,
      'expired',
    );
  });

  it('refuses an authorization not yet valid', async () => {
    await expectAllRefused(
      () => authorize(kit, { issuedAtMs: TEST_NOW_MS + 5 * 60_000 }),
      ErrorCode.AUTHORIZATION_INVALID,
      'not-yet-valid',
    );
  });

  it("refuses another module's authorization", async () => {
    await expectAllRefused(
      () => authorize(kit, { moduleSerial: 'MSM-24-000001-1' }),
      ErrorCode.AUTHORIZATION_INVALID,
      'wrong-module',
    );
  });

  it('refuses a proof signed by another station than the one authorized', async () => {
    await expectAllRefused(
      () => authorize(kit, {}, { station: kit.fx.phone }),
      ErrorCode.AUTHORIZATION_INVALID,
      'bad-station-signature',
    );
  });

  it('refuses an authorization signed by a key outside the key ring', async () => {
    await expectAllRefused(
      () => authorize(kit, {}, { signer: kit.fx.phone }),
      ErrorCode.AUTHORIZATION_INVALID,
      'unknown-signer',
    );
  });

  it('refuses garbage and an authorization without the operation', async () => {
    await expectAllRefused(
      async () => new Uint8Array([9, 9, 9]),
      ErrorCode.AUTHORIZATION_INVALID,
      'malformed',
    );
    await expectAllRefused(
      () => authorize(kit, { operations: [] }),
      ErrorCode.AUTHORIZATION_INVALID,
      'operation-not-allowed',
    );
  });

  it('refuses a proof for an expired challenge or one from another connection', async () => {
    await expectAllRefused(
      async () => {
        const proof = await authorize(kit);
        kit.elapsed.ms += CHALLENGE_VALID_MS + 1;
        return proof;
      },
      ErrorCode.AUTHORIZATION_INVALID,
      'challenge-mismatch',
    );
    const earlier = await authorize(kit);
    kit.reconnect();
    await expectAllRefused(
      async () => earlier,
      ErrorCode.AUTHORIZATION_INVALID,
      'challenge-mismatch',
    );
  });

  it('accepts a valid proof, then the same proof for the rest of the connection', async () => {
    const proof = await authorize(kit);
    const results = await outcomes(stateChanging(OTHER_SERIAL), proof);
    for (const [kind, result] of Object.entries(results)) {
      expect(
        AUTHORIZATION_CODES.map((c) => ErrorCode[c]),
        kind,
      ).not.toContain(result);
    }
    expect(results).toMatchObject({
      selfTestRun: 'ok',
      faultCodesClear: 'ok',
      factoryReset: 'BAD_REQUEST',
    });
    expect(moduleActions).toEqual(['unlock', 'lock']);
    expect(kit.faults.faults).toEqual([]);
    // Long after the challenge expired, the accepted proof still works on this connection...
    kit.elapsed.ms += 10 * CHALLENGE_VALID_MS;
    await send('faultCodesClear', {}, proof);
    // ...but only for what it allows, and not on the next connection.
    const flashOnly = await authorize(kit, { operations: [ServiceOperation.FLASH] });
    const refused = await refusal(send('faultCodesClear', {}, flashOnly));
    expect(refused.code).toBe(ErrorCode.AUTHORIZATION_INVALID);
    kit.reconnect();
    expect((await refusal(send('faultCodesClear', {}, proof))).code).toBe(
      ErrorCode.AUTHORIZATION_INVALID,
    );
  });

  it('shares one verification among requests sent together', async () => {
    const proof = await authorize(kit);
    const answers = await Promise.all(
      [1, 2, 3, 4].map(() =>
        kit.host.request('faultCodesClear', {}, { serviceAuthorization: proof }),
      ),
    );
    // All four ran, one after another: the first cleared the stored code.
    expect(answers.map((a) => a.cleared).sort()).toEqual([0, 0, 0, 1]);
  });

  it('runs read-only self-tests without authorization, actuating ones only with it', async () => {
    const run = await kit.host.request('selfTestRun', { testIds: ['supply-voltage', 'gnss-fix'] });
    expect(run.results.map((r) => r.testId)).toEqual(['supply-voltage', 'gnss-fix']);
    // The default set (empty list) moves nothing, but the guard fails closed on it as on an
    // unknown id; an actuating test needs ACTUATING_SELF_TEST.
    for (const testIds of [['supply-voltage', 'immobilizer-handshake'], [], ['no-such-test']]) {
      const error = await refusal(send('selfTestRun', { testIds }));
      expect(error.code).toBe(ErrorCode.AUTHORIZATION_REQUIRED);
    }
    expect(moduleActions).toEqual([]);
    // With authorization, an unknown id is the handler's to refuse: BAD_REQUEST, nothing runs.
    const proof = await authorize(kit);
    const unknown = await refusal(
      send('selfTestRun', { testIds: ['central-lock-actuation', 'no-such-test'] }, proof),
    );
    expect(unknown.code).toBe(ErrorCode.BAD_REQUEST);
    expect(moduleActions).toEqual([]);
  });

  it('takes its time from the signed issue time when its clock is unknown', async () => {
    kit.clock.timeKnown = false;
    kit.clock.nowMs = RTC_RESET_MS + 5000;
    // Issued two hours "ago": no time check is possible, so the module accepts it and adopts it.
    const issuedAtMs = TEST_NOW_MS - 2 * 3600_000;
    const proof = await authorize(kit, { issuedAtMs, validForMs: 10 * 60_000 });
    expect(await send('faultCodesClear', {}, proof)).toEqual(
      expect.objectContaining({ cleared: 1 }),
    );
    expect(kit.clock.timeKnown).toBe(true);
    expect(kit.clock.nowMs).toBe(issuedAtMs);
  });
});
