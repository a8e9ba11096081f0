/**
 * 100,000 fuzzed service frames (issue #6), in-process, against the real request handlers
 * (createFirmwareHandlers, with the baud follower, as firmware/main.ts serves them): the bytes go
 * through the module's own session (frame decoder, request server, handlers, authorization guard)
 * on an in-memory line, in batches, with no per-frame timers. Once on an UNPROVISIONED module and
 * once on a PROVISIONED one (provisioned with the trust fixtures' cloud, as provisioning.test.ts).
 * The generators are in testing/service-frames.ts.
 *
 * Asserted: no exception escapes (no unhandled rejection or uncaught exception, no INTERNAL
 * answer), every request delivered intact is answered, the module still answers HELLO and
 * device_info afterwards, and nothing changed: every stored record and both image slots
 * (testing/state-snapshot.ts and the files on disk) and the car (locks, immobilizer; the module
 * never actuated it). The module log is left out of the snapshot: a refused state-changing
 * request is meant to leave a line there (firmware-service.ts), so the log must have GROWN.
 *
 * What the generator leaves out, because the module is meant to act on it (a change there is no
 * bug): on the unprovisioned module, which needs no authorization, the state-changing requests
 * that would pass the handler's own checks (a provision_begin with a usable nonce, a flash_begin
 * with a sound announcement, a self_test_run of known tests, any fault_codes_clear, a factory
 * reset naming this module); flash_data/end/activate/confirm and provision_commit stay in, since
 * no flash or provisioning was begun. On the provisioned module every state-changing request
 * stays in, since none carries a live authorization, except a self_test_run of known read-only
 * tests only: it needs no authorization (PROTOCOL.md section 14) and stores what it finds in the
 * fault memory. The units are filtered after they are generated, with a replica of the decoder,
 * so damaged frames that happen to come out as such a request are left out too.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes, sha256 } from '@mini-sharing/shared-protocol/crypto';
import {
  ErrorCode,
  ProvisioningState,
  decodeResponse,
  type Request,
} from '@mini-sharing/shared-protocol/messages';
import { FrameType } from '@mini-sharing/shared-protocol/session';
import { issueModuleCertificate } from '@mini-sharing/shared-protocol/trust';
import { TEST_NOW_MS } from '@mini-sharing/shared-protocol/trust/test-fixtures';
import { canonicalModuleSerial } from '@mini-sharing/shared-protocol/vehicle';
import { deflateRawSegments } from '@mini-sharing/shared-protocol/service-client';
import { operationNeeded } from './authorization.js';
import { describeTransfer } from './flash-transfer.js';
import { MAX_CLOUD_NONCE_LENGTH, MIN_CLOUD_NONCE_LENGTH } from './provisioning.js';
import { requestedTests } from './self-tests.js';
import { moduleLink, snapshot } from './service-test-kit.js';
import { openRawServicePort, type RawServicePort } from './testing/raw-service-port.js';
import { moduleStateSnapshot } from './testing/state-snapshot.js';
import {
  deliveredRequests,
  lineUnit,
  requestKey,
  type FuzzMaterial,
} from './testing/service-frames.js';

/** Frames per module (each unit: optional garbage, then one frame, intact or not). */
const FRAMES = Number(process.env.SERVICE_FUZZ_FRAMES ?? 100_000);
const UNITS_PER_BATCH = 50;
const SEED = Number(process.env.SERVICE_FUZZ_SEED ?? 6006);
/** For a whole batch to be answered; they are answered in milliseconds. */
const BATCH_DEADLINE_MS = 20_000;

/**
 * Would the module act on this request, changing what it stores or moving the car? (See the top
 * of the file.) Uses the handlers' own checks where a request is meant to be refused by them.
 */
function actsOn(request: Request, provisioned: boolean, moduleSerial: string): boolean {
  const { body } = request;
  if (body.case === 'selfTestRun') {
    if (provisioned) return operationNeeded('selfTestRun', body.value) === undefined;
    return refusedBy(() => requestedTests(body.value.testIds)) === false;
  }
  if (provisioned) return false;
  switch (body.case) {
    case 'provisionBegin': {
      const length = body.value.cloudNonce.length;
      return length >= MIN_CLOUD_NONCE_LENGTH && length <= MAX_CLOUD_NONCE_LENGTH;
    }
    case 'flashBegin':
      return (
        body.value.imageSha256.length === 32 &&
        body.value.imageSize > 0 &&
        !refusedBy(() => describeTransfer(body.value))
      );
    case 'faultCodesClear':
      return true;
    case 'factoryReset':
      return (
        canonicalModuleSerial(body.value.confirmModuleSerial) ===
        (canonicalModuleSerial(moduleSerial) ?? moduleSerial)
      );
    default:
      return false;
  }
}

/** A request in words, for a failure message. */
function inWords(request: Request | undefined): string {
  if (!request) return 'undecodable';
  const text = JSON.stringify(request.body.value ?? {}, (_key, value: unknown) =>
    typeof value === 'bigint'
      ? String(value)
      : value instanceof Uint8Array
        ? `${value.length} bytes`
        : value,
  );
  return `${request.body.case ?? 'unknown kind'} ${text.slice(0, 300)}`;
}

function refusedBy(check: () => unknown): boolean {
  try {
    check();
    return false;
  } catch {
    return true;
  }
}

/** 20 KB of image-like bytes and a sound deflate announcement of them (4 KiB segments). */
async function imageMaterial(): Promise<FuzzMaterial['image']> {
  const image = randomBytes(20_000);
  image.fill(0x41, 0, 12_000);
  const segmentSize = 4096;
  const { segmentTransferSizes } = await deflateRawSegments(image, segmentSize);
  return { size: image.length, sha256: sha256(image), segmentSize, segmentTransferSizes };
}

/** Genuine proofs as a station makes them: valid, expired, for another module, not yet valid. */
async function genuineProofs(port: RawServicePort): Promise<Uint8Array[]> {
  return Promise.all(
    [
      {},
      { issuedAtMs: TEST_NOW_MS - 31 * 60_000, validForMs: 30 * 60_000 },
      { moduleSerial: 'MSM-24-000001-1' },
      { issuedAtMs: TEST_NOW_MS + 5 * 60_000 },
    ].map((fields) => port.authorize(fields)),
  );
}

interface FuzzStats {
  frames: number;
  requestsDelivered: number;
  responses: number;
  codes: Record<string, number>;
  framesDropped: number;
  seconds: number;
}

/** Sends FRAMES fuzzed frames in batches; each batch must be answered before the next. */
async function fuzz(
  port: RawServicePort,
  material: FuzzMaterial,
  provisioned: boolean,
): Promise<FuzzStats> {
  const moduleSerial = port.fx.moduleSerial;
  const unit = lineUnit(material).filter((bytes) =>
    deliveredRequests(bytes).every(
      ({ request }) => request === undefined || !actsOn(request, provisioned, moduleSerial),
    ),
  );
  const codes: Record<string, number> = {};
  const internal: string[] = [];
  let responses = 0;
  let undecodable = 0;
  const answeredSeqs = new Set<number>();
  const stop = port.onModuleFrame((frame) => {
    if (frame.type !== FrameType.Response) return;
    responses += 1;
    answeredSeqs.add(frame.seq);
    const decoded = decodeResponse(frame.payload);
    if (!decoded.ok) {
      undecodable += 1;
      return;
    }
    const { body } = decoded.message;
    const outcome = body.case === 'error' ? (ErrorCode[body.value.code] ?? 'unknown') : 'ok';
    codes[outcome] = (codes[outcome] ?? 0) + 1;
    if (body.case === 'error' && body.value.code === ErrorCode.INTERNAL) {
      internal.push(body.value.message);
    }
  });

  let frames = 0;
  let requestsDelivered = 0;
  let framesDropped = 0;
  const started = performance.now();
  try {
    const result = await fc.check(
      fc.asyncProperty(
        fc.array(unit, { minLength: UNITS_PER_BATCH, maxLength: UNITS_PER_BATCH }),
        fc.array(fc.nat(), { maxLength: 4 }),
        fc.nat({ max: 99 }),
        async (units, cuts, dice) => {
          const keys = new Map<string, string>();
          for (const bytes of units) {
            for (const { frame, request } of deliveredRequests(bytes)) {
              keys.set(requestKey(frame), `seq ${frame.seq}: ${inWords(request)}`);
            }
          }
          answeredSeqs.clear();
          requestsDelivered += keys.size;
          const target = responses + keys.size;
          // the batch as a host's writes arrive: split anywhere, frames across reads
          const line = new Uint8Array(units.reduce((sum, b) => sum + b.length, 0));
          let at = 0;
          for (const bytes of units) {
            line.set(bytes, at);
            at += bytes.length;
          }
          const points = [...new Set(cuts.map((cut) => cut % line.length))].sort((a, b) => a - b);
          let from = 0;
          for (const point of [...points, line.length]) {
            if (point > from) port.write(line.subarray(from, point));
            from = point;
          }
          frames += units.length;
          const deadline = performance.now() + BATCH_DEADLINE_MS;
          while (responses < target) {
            if (performance.now() > deadline) {
              const unanswered = [...keys].filter(
                ([key]) => !answeredSeqs.has(Number(key.split(':')[0])),
              );
              throw new Error(
                `${target - responses} requests of a batch were never answered; not answered: ` +
                  unanswered.map(([, text]) => text).join('\n'),
              );
            }
            await new Promise((resolve) => setImmediate(resolve));
          }
          // Now and then the cable is pulled and plugged back in (new session, new connection).
          if (dice < 3) {
            framesDropped += port.module.stats.framesDropped;
            port.reconnect();
          }
        },
      ),
      { numRuns: Math.ceil(FRAMES / UNITS_PER_BATCH), seed: SEED, endOnFailure: true },
    );
    if (result.failed) {
      // The counterexample is megabytes of bytes: the seed and path replay it.
      throw new Error(
        `batch ${result.numRuns} failed (seed ${result.seed}, path ${result.counterexamplePath}): ` +
          String(
            result.errorInstance instanceof Error
              ? result.errorInstance.message
              : result.errorInstance,
          ),
        { cause: result.errorInstance },
      );
    }
    // answers that were not awaited (repeats answered from the cache) come in too
    await new Promise((resolve) => setTimeout(resolve, 50));
  } finally {
    stop();
  }
  framesDropped += port.module.stats.framesDropped;
  expect(internal).toEqual([]);
  expect(undecodable).toBe(0);
  return {
    frames,
    requestsDelivered,
    responses,
    codes,
    framesDropped,
    seconds: (performance.now() - started) / 1000,
  };
}

/** Everything a fuzzed request must not change. */
async function stateOf(port: RawServicePort) {
  return {
    storage: await moduleStateSnapshot(port.storage, port.vehicle),
    files: await snapshot(port.dir),
    identity: {
      state: port.stores.identity.state,
      key: port.stores.identity.identityPublicKey,
    },
    faults: port.stores.faults.faults.map((fault) => ({ ...fault })),
    reboots: port.reboots,
  };
}

describe.each([
  { provisioned: false, name: 'an UNPROVISIONED' },
  { provisioned: true, name: 'a PROVISIONED' },
])('fuzzed service frames on $name module', ({ provisioned }) => {
  let port: RawServicePort;
  let material: FuzzMaterial;
  const unhandled: unknown[] = [];
  const record = (error: unknown) => unhandled.push(error);
  /** What the module did to the car, as the car saw it. */
  const moduleActions: string[] = [];

  beforeAll(async () => {
    process.on('unhandledRejection', record);
    process.on('uncaughtException', record);
    port = await openRawServicePort();
    const { fx } = port;
    // the module's certificate when provisioned, else one for a key it does not hold
    const certificate = await issueModuleCertificate(fx.cloud, {
      moduleSerial: fx.moduleSerial,
      modulePublicKey: provisioned
        ? (await port.provision()).identityPublicKey
        : fx.module.publicKey,
      vin: fx.vin,
      issuedAtMs: TEST_NOW_MS,
    });
    expect(port.stores.identity.state).toBe(
      provisioned ? ProvisioningState.PROVISIONED : ProvisioningState.UNPROVISIONED,
    );
    // a stored fault code, so that a clear that got through would show
    await port.stores.faults.update({ detected: ['B1C51'] });
    material = {
      moduleSerial: fx.moduleSerial,
      proofs: await genuineProofs(port),
      image: await imageMaterial(),
      moduleCertificate: certificate,
      moduleLink: moduleLink(fx),
    };
    // A new connection: the challenges the genuine proofs answer are gone.
    port.reconnect();
    port.vehicle.on('lock', ({ locked, by }) => {
      if (by === 'module') moduleActions.push(locked ? 'lock' : 'unlock');
    });
    port.vehicle.on('immobilizer', ({ released }) =>
      moduleActions.push(released ? 'release' : 'engage'),
    );
  }, 60_000);

  afterAll(async () => {
    process.off('unhandledRejection', record);
    process.off('uncaughtException', record);
    await port?.close();
  });

  it(
    `${FRAMES.toLocaleString('en')} frames: no crash, every request answered, no state change`,
    { timeout: 300_000 },
    async () => {
      const before = await stateOf(port);
      const logBefore = port.stores.log.nextSequence;
      const hello = await port.host.request('hello', { protocolMajor: 1, host: 'fuzz' });

      const stats = await fuzz(port, material, provisioned);
      console.log(
        `${provisioned ? 'provisioned' : 'unprovisioned'}: ${stats.frames} frames ` +
          `(${stats.requestsDelivered} distinct requests delivered intact, ${stats.framesDropped} ` +
          `frames dropped by the decoder) in ${stats.seconds.toFixed(1)} s = ` +
          `${Math.round(stats.frames / stats.seconds)} frames/s; answers ${JSON.stringify(stats.codes)}`,
      );

      expect(unhandled).toEqual([]);
      expect(stats.frames).toBe(FRAMES);
      expect(stats.responses).toBeGreaterThanOrEqual(stats.requestsDelivered);
      // The fuzzing got through the framing into the handlers, and past the decoding into them.
      expect(stats.requestsDelivered).toBeGreaterThan(FRAMES / 2);
      expect(stats.framesDropped).toBeGreaterThan(FRAMES / 20);
      expect(stats.codes.ok).toBeGreaterThan(FRAMES / 20);
      expect(stats.codes.BAD_REQUEST).toBeGreaterThan(FRAMES / 50);
      expect(stats.codes.UNSUPPORTED).toBeGreaterThan(FRAMES / 50);
      if (provisioned) {
        expect(stats.codes.AUTHORIZATION_REQUIRED).toBeGreaterThan(FRAMES / 50);
        expect(stats.codes.AUTHORIZATION_INVALID).toBeGreaterThan(FRAMES / 500);
      }

      // Still itself: HELLO and device info answer as before.
      port.reconnect();
      expect(await port.host.request('hello', { protocolMajor: 1, host: 'fuzz' })).toEqual(hello);
      const info = await port.host.request('deviceInfo', {});
      expect(info.moduleSerial).toBe(port.fx.moduleSerial);
      expect(info.provisioningState).toBe(
        provisioned ? ProvisioningState.PROVISIONED : ProvisioningState.UNPROVISIONED,
      );

      // Nothing changed: storage (log aside), identity, fault memory, the car; no restart.
      await port.stores.log.close();
      expect(await stateOf(port)).toEqual(before);
      expect(moduleActions).toEqual([]);
      // The log is not in the snapshot: refused state-changing requests leave lines there.
      expect(port.stores.log.nextSequence).toBeGreaterThan(logBefore);
    },
  );
});

describe('inputs the fuzzer found', () => {
  let port: RawServicePort | undefined;
  afterAll(() => port?.close());

  it('flash_end with nothing begun is refused and leaves the empty slot as it was', async () => {
    port = await openRawServicePort();
    const before = await moduleStateSnapshot(port.storage);
    const error = await port.host.request('flashEnd', {}).catch((e: { code?: ErrorCode }) => e);
    expect(error).toMatchObject({ code: ErrorCode.FLASH_NOT_STARTED });
    expect(await moduleStateSnapshot(port.storage)).toEqual(before);
  });

  it('a refusal quoting a huge input still fits in one frame, and is answered', async () => {
    const unhandled: unknown[] = [];
    const record = (error: unknown) => unhandled.push(error);
    process.on('unhandledRejection', record);
    try {
      port ??= await openRawServicePort();
      const refused = (promise: Promise<unknown>) =>
        promise.then(
          () => 'accepted',
          (error: { code?: ErrorCode }) => ErrorCode[error.code ?? ErrorCode.UNSPECIFIED],
        );
      const options = { timeoutMs: 5000 };
      expect(
        await refused(port.host.request('selfTestRun', { testIds: ['x'.repeat(16_000)] }, options)),
      ).toBe('BAD_REQUEST');
      expect(
        await refused(
          port.host.request(
            'factoryReset',
            { confirmModuleSerial: '\u0001'.repeat(5000) },
            options,
          ),
        ),
      ).toBe('BAD_REQUEST');
      // a pending identity, then settings whose broker URL the refusal quotes
      await port.host.request('provisionBegin', { cloudNonce: randomBytes(32) });
      expect(
        await refused(
          port.host.request(
            'provisionCommit',
            { moduleLink: { brokerUrl: 'x'.repeat(16_340) } },
            options,
          ),
        ),
      ).toBe('BAD_REQUEST');
      await new Promise((resolve) => setTimeout(resolve, 20));
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', record);
    }
  });
});
