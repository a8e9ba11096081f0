/**
 * The exhaustive authorization matrix (issue #6): every request kind that changes state
 * (`changesState` in REQUEST_KINDS) on a PROVISIONED module, each as a host with the right to it
 * would send it, at the point where the module would act on it (a real flash_begin; the next chunk
 * of a begun transfer; flash_end of a complete one; flash_activate of a verified image; the
 * confirm of a running trial; a provision_begin; the commit of a begun provisioning with a real
 * certificate; actuating self-tests; a fault clear with a code stored; a factory reset naming this
 * module), sent without authorization, with an expired one and with another module's: refused
 * with AUTHORIZATION_REQUIRED / AUTHORIZATION_INVALID and nothing changed (every stored record
 * but the log, both slots, the identity, the fault memory, the car). Then, as the control, the
 * same request with a valid authorization is accepted, so it was the authorization that was
 * missing, not something else.
 *
 * Driven by REQUEST_KINDS: a state-changing request added without a row fails here.
 * authorization.test.ts covers the guard's other refusal reasons (signer, signature, station,
 * challenge, operation) and the unprovisioned module; this file does not repeat those.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { randomBytes } from '@mini-sharing/shared-protocol/crypto';
import {
  BootSlot,
  Compression,
  ErrorCode,
  ProvisioningState,
  REQUEST_KINDS,
  SelfTestOutcome,
  changesState,
  type RequestInitOf,
  type RequestKind,
  type ResponseOf,
} from '@mini-sharing/shared-protocol/messages';
import { deflateRawSegments } from '@mini-sharing/shared-protocol/service-client';
import { sha256 } from '@mini-sharing/shared-protocol/crypto';
import { issueModuleCertificate } from '@mini-sharing/shared-protocol/trust';
import { TEST_NOW_MS } from '@mini-sharing/shared-protocol/trust/test-fixtures';
import { readBootState, writeBootState } from './boot-records.js';
import { firmwarePayload, release, signedImage } from './flash-test-kit.js';
import { moduleLink, refusal, snapshot } from './service-test-kit.js';
import { openRawServicePort, type RawServicePort } from './testing/raw-service-port.js';
import { moduleStateSnapshot } from './testing/state-snapshot.js';

type StateChangingKind = {
  [K in RequestKind]: (typeof REQUEST_KINDS)[K]['changesState'] extends true ? K : never;
}[RequestKind];

const STATE_CHANGING = (Object.keys(REQUEST_KINDS) as RequestKind[]).filter(changesState);
const OTHER_MODULE = 'MSM-24-000001-1';
const CHUNK = 4096;

interface Matrix {
  port: RawServicePort;
  /** What the module did to the car (lock, unlock, release, engage), as the car saw it. */
  carActions: string[];
  /** A signed 1.2.0 image for this module, announced as deflate segments. */
  image: {
    begin: RequestInitOf<'flashBegin'>;
    transfer: Uint8Array;
  };
  /** Set by a row's prepare step (provision_commit: the pending identity key). */
  pendingKey?: Uint8Array;
}

interface Row<K extends StateChangingKind> {
  /** Brings the module to where it would act on the request (run with a valid authorization). */
  prepare?: (m: Matrix, proof: Uint8Array) => Promise<void>;
  /** The request as a host with the right to it sends it. */
  body: (m: Matrix) => RequestInitOf<K> | Promise<RequestInitOf<K>>;
  /** The control: what shows the module acted when the request was authorized. */
  accepted: (response: ResponseOf<K>, m: Matrix) => void | Promise<void>;
}

type Rows = { [K in StateChangingKind]: Row<K> };

const send = <K extends RequestKind>(
  port: RawServicePort,
  kind: K,
  value: RequestInitOf<K>,
  proof?: Uint8Array,
) => port.host.request(kind, value, proof ? { serviceAuthorization: proof } : {});

async function flashBegin(m: Matrix, proof: Uint8Array) {
  await send(m.port, 'flashBegin', m.image.begin, proof);
}

async function flashAllData(m: Matrix, proof: Uint8Array) {
  const { transfer } = m.image;
  for (let offset = 0; offset < transfer.length; offset += CHUNK) {
    await send(
      m.port,
      'flashData',
      { offset, data: transfer.subarray(offset, offset + CHUNK) },
      proof,
    );
  }
}

const ROWS: Rows = {
  flashBegin: {
    body: (m) => m.image.begin,
    accepted: (response) =>
      expect(response).toMatchObject({ targetSlot: BootSlot.B, committedOffset: 0 }),
  },
  flashData: {
    prepare: flashBegin,
    body: (m) => ({ offset: 0, data: m.image.transfer.subarray(0, CHUNK) }),
    accepted: (response) => expect(response.offset).toBe(0),
  },
  flashEnd: {
    prepare: async (m, proof) => {
      await flashBegin(m, proof);
      await flashAllData(m, proof);
    },
    body: () => ({}),
    accepted: (response) =>
      expect(response).toMatchObject({ targetSlot: BootSlot.B, firmwareVersion: '1.2.0' }),
  },
  flashActivate: {
    prepare: async (m, proof) => {
      await flashBegin(m, proof);
      await flashAllData(m, proof);
      await send(m.port, 'flashEnd', {}, proof);
    },
    body: () => ({}),
    accepted: async (response, m) => {
      expect(response.trialSlot).toBe(BootSlot.B);
      expect(await readBootState(m.port.storage.records)).toMatchObject({ trial: { slot: 'B' } });
    },
  },
  flashConfirm: {
    // The module runs slot A as a trial boot, as after an update whose image has not confirmed
    // itself yet: a confirm makes it the active slot.
    prepare: async (m) => {
      await writeBootState(m.port.storage.records, {
        active: 'B',
        trial: { slot: 'A', attempted: true },
      });
    },
    body: () => ({}),
    accepted: async (response, m) => {
      expect(response.confirmedSlot).toBe(BootSlot.A);
      expect(await readBootState(m.port.storage.records)).toEqual({ active: 'A' });
    },
  },
  provisionBegin: {
    body: () => ({ cloudNonce: randomBytes(32) }),
    accepted: (response, m) => {
      expect(response.identityPublicKey).toHaveLength(32);
      expect(m.port.stores.identity.state).toBe(ProvisioningState.PROVISIONED);
      expect(m.port.stores.identity.pendingIdentity?.publicKey).toEqual(response.identityPublicKey);
    },
  },
  provisionCommit: {
    prepare: async (m, proof) => {
      const begin = await send(m.port, 'provisionBegin', { cloudNonce: randomBytes(32) }, proof);
      m.pendingKey = begin.identityPublicKey;
    },
    body: async (m) => ({
      moduleCertificate: await issueModuleCertificate(m.port.fx.cloud, {
        moduleSerial: m.port.fx.moduleSerial,
        modulePublicKey: m.pendingKey ?? new Uint8Array(32),
        vin: m.port.fx.vin,
        issuedAtMs: TEST_NOW_MS,
      }),
      moduleLink: moduleLink(m.port.fx),
    }),
    accepted: (response, m) => {
      expect(response.provisioningState).toBe(ProvisioningState.PROVISIONED);
      expect(m.port.stores.identity.identityPublicKey).toEqual(m.pendingKey);
    },
  },
  selfTestRun: {
    body: () => ({ testIds: ['central-lock-actuation', 'immobilizer-handshake'] }),
    accepted: (response, m) => {
      expect(response.results.map((r) => [r.testId, r.outcome])).toEqual([
        ['central-lock-actuation', SelfTestOutcome.PASSED],
        ['immobilizer-handshake', SelfTestOutcome.PASSED],
      ]);
      expect(m.carActions).toEqual(['unlock', 'lock', 'release', 'engage']);
    },
  },
  faultCodesClear: {
    body: () => ({}),
    accepted: (response, m) => {
      expect(response.cleared).toBe(1);
      expect(m.port.stores.faults.faults).toEqual([]);
    },
  },
  factoryReset: {
    body: (m) => ({ confirmModuleSerial: m.port.fx.moduleSerial }),
    accepted: (response, m) => {
      expect(response.rebootInMs).toBeGreaterThan(0);
      expect(m.port.stores.identity.state).toBe(ProvisioningState.UNPROVISIONED);
    },
  },
};

/** The three ways in without the right to it. */
const REFUSALS = [
  {
    name: 'without authorization',
    proof: async () => undefined,
    code: ErrorCode.AUTHORIZATION_REQUIRED,
    reason: 'missing',
  },
  {
    name: 'with an expired authorization',
    proof: (port: RawServicePort) =>
      port.authorize({ issuedAtMs: TEST_NOW_MS - 31 * 60_000, validForMs: 30 * 60_000 }),
    code: ErrorCode.AUTHORIZATION_INVALID,
    reason: 'expired',
  },
  {
    name: "with another module's authorization",
    proof: (port: RawServicePort) => port.authorize({ moduleSerial: OTHER_MODULE }),
    code: ErrorCode.AUTHORIZATION_INVALID,
    reason: 'wrong-module',
  },
];

let image: Matrix['image'] | undefined;
async function testImage(): Promise<Matrix['image']> {
  if (!image) {
    const bytes = await signedImage(firmwarePayload(60_000));
    const segmentSize = 16 * 1024;
    const { segmentTransferSizes, transfer } = await deflateRawSegments(bytes, segmentSize);
    image = {
      transfer,
      begin: {
        imageSize: bytes.length,
        imageSha256: sha256(bytes),
        compression: Compression.DEFLATE,
        transferSize: transfer.length,
        segmentSize,
        segmentTransferSizes,
        chunkSize: CHUNK,
        window: 8,
      },
    };
  }
  return image;
}

/** Everything a refused request must not change. */
async function stateOf(m: Matrix) {
  const { port } = m;
  return {
    storage: await moduleStateSnapshot(port.storage, port.vehicle),
    files: await snapshot(port.dir),
    identity: {
      state: port.stores.identity.state,
      key: port.stores.identity.identityPublicKey,
      pending: port.stores.identity.pendingIdentity?.publicKey,
    },
    faults: port.stores.faults.faults.map((fault) => ({ ...fault })),
    carActions: [...m.carActions],
    reboots: port.reboots,
  };
}

let port: RawServicePort | undefined;
afterEach(async () => {
  await port?.close();
  port = undefined;
});

describe('the authorization matrix on a provisioned module', () => {
  it('has a row for every state-changing request kind, and only for those', () => {
    expect(Object.keys(ROWS).sort()).toEqual([...STATE_CHANGING].sort());
  });

  it.each(STATE_CHANGING)(
    '%s: refused without, with an expired and with another module’s authorization; nothing changes',
    async (kind) => {
      const row = (ROWS as Partial<Record<RequestKind, Row<StateChangingKind>>>)[kind];
      if (!row) throw new Error(`no row for ${kind}: add one to ROWS`);
      port = await openRawServicePort({ pinnedReleaseKeys: [release] });
      const m: Matrix = { port, carActions: [], image: await testImage() };
      port.vehicle.on('lock', ({ locked, by }) => {
        if (by === 'module') m.carActions.push(locked ? 'lock' : 'unlock');
      });
      port.vehicle.on('immobilizer', ({ released }) =>
        m.carActions.push(released ? 'release' : 'engage'),
      );
      await port.provision();
      await port.stores.faults.update({ detected: ['B1C51'] });
      await row.prepare?.(m, await port.authorize());
      // a new connection: nothing accepted on the old one carries over
      port.reconnect();
      const body = await row.body(m);
      const before = await stateOf(m);

      for (const refusalCase of REFUSALS) {
        const error = await refusal(send(port, kind, body as never, await refusalCase.proof(port)));
        expect({
          case: refusalCase.name,
          code: ErrorCode[error.code],
          reason: error.details.reason,
        }).toEqual({
          case: refusalCase.name,
          code: ErrorCode[refusalCase.code],
          reason: refusalCase.reason,
        });
        expect(await stateOf(m), `${kind} ${refusalCase.name}`).toEqual(before);
      }

      // The control: authorized, the very same request is carried out.
      const response = await send(port, kind, body as never, await port.authorize());
      await row.accepted(response as never, m);
    },
  );
});
