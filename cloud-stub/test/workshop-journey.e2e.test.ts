/**
 * Issue #8 "done when", end to end: the cloud as `npm start -w cloud-stub` runs it (HTTP on a
 * port, the embedded MQTT broker, a store seeded with the defaults) and a real module (boot loader
 * and firmware processes on a simulated 5GE car of the example fleet, on a virtual serial line),
 * driven the way the workshop app drives them, over real HTTP and the real service link:
 *
 * a new workshop station registers and its dealer admin approves it; a seeded mechanic signs in
 * there; the car's eligibility and the firmware come from the seeded data (the module boots the
 * catalog's own 1.0.0 image); the module proves its fresh identity key over the cloud's nonce,
 * the cloud registers it and the module stores the certificate and settings; the module comes
 * online at the cloud's broker with the credentials it was given; the mechanic runs every self-test
 * with a cloud-issued service authorization, sends the installation report and the car becomes
 * ready to share; a workshop test key for the now installed car notifies the owner; an agent's
 * look-up shows the module online with its firmware, no fault codes and the accepted report; the
 * audit log holds each step.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signStationRequest, stationRegistrationMessage } from '@mini-sharing/shared-protocol/api';
import { systemClock } from '@mini-sharing/shared-protocol/clock';
import {
  fromHex,
  generateEd25519Seed,
  seedSigner,
  toHex,
  utf8,
  type Signer,
} from '@mini-sharing/shared-protocol/crypto';
import { SELF_TEST_IDS, selfTestOutcomeFromProto } from '@mini-sharing/shared-protocol/diagnostics';
import { ProvisioningState, RunMode } from '@mini-sharing/shared-protocol/messages';
import { ServiceClient } from '@mini-sharing/shared-protocol/service-client';
import {
  proveServiceAuthorization,
  verifyModuleLinkSettings,
} from '@mini-sharing/shared-protocol/trust';
import { startModuleRig, type ModuleRig } from '@mini-sharing/module/sim';
import { createAccount } from '../src/accounts/accounts.js';
import { startCloud, type RunningCloud } from '../src/server.js';
import { testConfig } from './helpers.js';

const SEEDED_PASSWORD = 'development-only-password';
const DEALER = { id: 'DLR-DE-MUC-01', name: 'MINI München Nord' };
const ADMIN_EMAIL = 'claudia.wimmer@mini-muenchen-nord.example';
const MECHANIC = { id: 'MEC-DE-MUC-01-001', email: 'anna.berger@mini-muenchen-nord.example' };
const AGENT = { id: 'AGT-E2E-1', email: 'agent.e2e@mini.example' };

let dir: string;
let cloud: RunningCloud;
let rig: ModuleRig | undefined;
let client: ServiceClient;
let station: { id: string; signer: Signer };
let mechanic: Session;
let moduleSerial: string;
let hardwareRevision: string;
let vin: string;

interface Answer {
  status: number;
  /** The JSON body (undefined for other content); each step checks the values it needs. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- read loosely on purpose
  json: any;
  bytes: Uint8Array;
}

interface Session {
  request(method: string, path: string, body?: unknown): Promise<Answer>;
}

/** A JSON request over HTTP; with `signer`, signed as the workshop station signs every request. */
async function call(
  method: string,
  path: string,
  options: { body?: unknown; token?: string; signer?: Signer } = {},
): Promise<Answer> {
  const body = options.body === undefined ? '' : JSON.stringify(options.body);
  const headers: Record<string, string> = {};
  if (body !== '') headers['content-type'] = 'application/json';
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  if (options.signer) {
    Object.assign(
      headers,
      await signStationRequest(options.signer, {
        method,
        path,
        body: utf8(body),
        timestamp: Date.now(),
        nonce: randomBytes(16).toString('base64url'),
      }),
    );
  }
  const response = await fetch(`${cloud.url}${path}`, {
    method,
    headers,
    ...(body === '' ? {} : { body }),
  });
  const bytes = new Uint8Array(await response.arrayBuffer());
  const isJson = response.headers.get('content-type')?.startsWith('application/json') ?? false;
  return {
    status: response.status,
    json: isJson ? JSON.parse(Buffer.from(bytes).toString('utf8')) : undefined,
    bytes,
  };
}

async function signIn(email: string, signer?: Signer, stationId?: string): Promise<Session> {
  const login = await call('POST', '/v1/auth/login', {
    body: { email, password: SEEDED_PASSWORD, ...(stationId ? { stationId } : {}) },
    ...(signer ? { signer } : {}),
  });
  expect(login.status, JSON.stringify(login.json)).toBe(200);
  const token = login.json.accessToken as string;
  return {
    request: (method, path, body) =>
      call(method, path, { body, token, ...(signer ? { signer } : {}) }),
  };
}

const expectStatus = (answer: Answer, status: number) =>
  expect(answer.status, JSON.stringify(answer.json)).toBe(status);

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'workshop-journey-'));
  cloud = await startCloud(
    testConfig({
      storage: { engine: 'sqlite', file: join(dir, 'cloud.sqlite') },
      http: { host: '127.0.0.1', port: 0 },
      mqtt: { mode: 'embedded', host: '127.0.0.1', port: 0 },
      auth: {},
    }),
    { seedWhenEmpty: true },
  );
  // Agents are brand staff: no seed file holds them (no self-registration either).
  await createAccount(
    cloud.context.storage.db,
    {
      id: AGENT.id,
      email: AGENT.email,
      password: SEEDED_PASSWORD,
      name: 'Call Centre',
      country: 'DE',
      role: 'agent',
      dealerId: null,
    },
    new Date(),
  );
}, 120_000);

afterAll(async () => {
  await rig?.close();
  await cloud?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('a workshop visit against the real cloud (issue #8)', () => {
  it('registers a new station, approved by the dealer admin; the mechanic signs in there', async () => {
    const signer = seedSigner(generateEd25519Seed());
    const publicKey = toHex(signer.publicKey);
    const name = 'Bay 2 laptop';
    const signature = await signer.sign(
      stationRegistrationMessage({ dealerId: DEALER.id, publicKey, name }),
    );
    const registered = await call('POST', '/v1/stations', {
      body: { dealerId: DEALER.id, name, publicKey, signature: { value: toHex(signature) } },
    });
    expectStatus(registered, 201);
    expect(registered.json.status).toBe('pending');
    station = { id: registered.json.id, signer };

    // Not approved yet: no mechanic signs in there.
    const early = await call('POST', '/v1/auth/login', {
      body: { email: MECHANIC.email, password: SEEDED_PASSWORD, stationId: station.id },
      signer,
    });
    expect(early.status).toBe(403);

    const admin = await signIn(ADMIN_EMAIL);
    expectStatus(await admin.request('POST', `/v1/stations/${station.id}/approve`), 200);
    mechanic = await signIn(MECHANIC.email, signer, station.id);
  });

  it('finds the car eligible and boots the module from the catalog’s factory image', async () => {
    const catalog = await mechanic.request('GET', '/v1/firmware?hardwareRevision=HW-C');
    expectStatus(catalog, 200);
    const factory = (catalog.json.images as { version: string; downloadPath: string }[]).find(
      (image) => image.version === '1.0.0',
    );
    expect(factory, 'the seeded catalog has 1.0.0').toBeDefined();
    const download = await mechanic.request('GET', factory!.downloadPath);
    expect(download.status).toBe(200);
    const image = download.bytes;

    rig = await startModuleRig({ factoryImage: image });
    const hello = await rig.helloWhen((answer) => answer.runMode === RunMode.APPLICATION);
    expect(hello).toMatchObject({
      firmwareVersion: '1.0.0',
      provisioningState: ProvisioningState.UNPROVISIONED,
    });
    moduleSerial = hello.moduleSerial;
    hardwareRevision = hello.hardwareRevision;
    vin = rig.car.vehicle.identity.vin;
    client = new ServiceClient({ session: rig.host, clock: systemClock, host: 'journey-e2e' });
    await client.connect();

    const eligibility = await mechanic.request('GET', `/v1/vehicles/${vin}/eligibility`);
    expectStatus(eligibility, 200);
    expect(eligibility.json.eligible).toBe(true);
  }, 60_000);

  it('provisions the module: key proven over the cloud nonce, registered, settings stored', async () => {
    const nonce = await mechanic.request('POST', '/v1/modules/registration-nonces');
    expectStatus(nonce, 201);
    const begin = await client.provisionBegin(fromHex(nonce.json.nonce));
    expect(begin).toMatchObject({ moduleSerial, vin });

    const registration = await mechanic.request('POST', '/v1/modules', {
      moduleSerial: begin.moduleSerial,
      vin: begin.vin,
      hardwareRevision,
      firmwareVersion: '1.0.0',
      identityPublicKey: toHex(begin.identityPublicKey),
      nonce: nonce.json.nonce,
      nonceSignature: toHex(begin.nonceSignature),
    });
    expectStatus(registration, 201);
    expect(registration.json.module).toMatchObject({
      moduleSerial,
      vin,
      status: 'active',
      dealerId: DEALER.id,
      mechanicId: MECHANIC.id,
      stationId: station.id,
      readyToShareAt: null,
    });

    // What the workshop app checks before it hands the settings to the module.
    const settings = await verifyModuleLinkSettings(
      Buffer.from(registration.json.moduleLinkSettings, 'base64'),
      { moduleSerial, rootPublicKey: cloud.context.keys.rootPublicKey },
    );
    expect(settings.ok, JSON.stringify(settings)).toBe(true);
    if (!settings.ok) return;
    expect(settings.value.settings.brokerUrl).toBe(registration.json.brokerUrl);

    const committed = await client.provisionCommit({
      moduleCertificate: Buffer.from(registration.json.moduleCertificate, 'base64'),
      moduleLink: settings.value.settings,
    });
    expect(committed.provisioningState).toBe(ProvisioningState.PROVISIONED);
  }, 30_000);

  it('sees the module come online at the cloud’s broker with the credentials it was given', async () => {
    const deadline = Date.now() + 20_000;
    let record: Answer | undefined;
    while (Date.now() < deadline) {
      record = await mechanic.request('GET', `/v1/modules/${moduleSerial}`);
      if (record.status === 200 && record.json.presence?.status === 'online') break;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    expect(record?.json?.presence?.status, JSON.stringify(record?.json)).toBe('online');
    expect(record!.json.lastContactAt).toEqual(expect.any(String));
  }, 30_000);

  it('runs every self-test under a cloud-issued service authorization; the report makes the car ready', async () => {
    const grant = await mechanic.request(
      'POST',
      `/v1/modules/${moduleSerial}/service-authorizations`,
      { operations: ['actuating-self-test'], validForMinutes: 15 },
    );
    expectStatus(grant, 201);
    expect(grant.json.ownerNotified).toBe(false); // the car is being installed, not yet shared
    const authorization = new Uint8Array(Buffer.from(grant.json.authorization, 'base64'));
    const authorized = new ServiceClient({
      session: rig!.host,
      clock: systemClock,
      host: 'journey-e2e',
      signProof: (challenge, serial) =>
        proveServiceAuthorization(station.signer, authorization, challenge, serial),
    });
    await authorized.connect();
    const startedAt = new Date().toISOString();
    const { results } = await authorized.selfTest(SELF_TEST_IDS, { timeoutMs: 30_000 });
    const finishedAt = new Date().toISOString();
    const selfTests = results.map((result) => ({
      testId: result.testId,
      outcome: selfTestOutcomeFromProto(result.outcome) ?? 'failed',
      ...(result.measuredValue === undefined ? {} : { measuredValue: result.measuredValue }),
      ...(result.unit ? { unit: result.unit } : {}),
      ...(result.limitMin === undefined ? {} : { limitMin: result.limitMin }),
      ...(result.limitMax === undefined ? {} : { limitMax: result.limitMax }),
      ...(result.faultCode ? { faultCode: result.faultCode } : {}),
      detail: result.detail,
    }));
    expect(
      selfTests.filter((test) => test.outcome !== 'passed'),
      'every self-test passes on a healthy car',
    ).toEqual([]);

    const reportId = randomUUID();
    const report = {
      reportId,
      reportVersion: 1,
      moduleSerial,
      vin,
      mechanic: { id: MECHANIC.id, name: 'Anna Berger' },
      dealer: { id: DEALER.id, name: DEALER.name, stationId: station.id },
      firmwareVersion: '1.0.0',
      startedAt,
      finishedAt,
      selfTests,
    };
    const submitted = await mechanic.request(
      'POST',
      `/v1/modules/${moduleSerial}/installation-reports`,
      report,
    );
    expectStatus(submitted, 201);
    expect(submitted.json).toMatchObject({ verdict: 'accepted', reasons: [] });
    expect(submitted.json.readyToShareAt).toEqual(expect.any(String));
  }, 60_000);

  it('tells the owner when a workshop key is issued for the installed car', async () => {
    const key = await mechanic.request('POST', `/v1/modules/${moduleSerial}/test-keys`, {
      validForMinutes: 10,
    });
    expectStatus(key, 201);
    expect(key.json).toMatchObject({ moduleSerial, vin, permissions: ['unlock', 'lock'] });
    expect(key.json.ownerNotified).toBe(true);
    const notifications = await cloud.context.storage.db
      .selectFrom('owner_notifications')
      .selectAll()
      .where('vin', '=', vin)
      .execute();
    expect(notifications).toHaveLength(1);
  });

  it('gives an agent the module’s record, and the audit log holds every step', async () => {
    const agent = await signIn(AGENT.email);
    const record = await agent.request('GET', `/v1/vehicles/${vin}/module`);
    expectStatus(record, 200);
    expect(record.json).toMatchObject({
      readyToShare: true,
      firmwareVersion: '1.0.0',
      faultCodes: [],
      presence: { status: 'online' },
      installationReport: { verdict: 'accepted' },
    });
    // Every test is kept with its value and the limits the module applied.
    const supply = record.json.installationReport.report.selfTests.find(
      (test: { testId: string }) => test.testId === 'supply-voltage',
    );
    expect(supply).toMatchObject({
      outcome: 'passed',
      measuredValue: expect.any(Number),
      unit: 'V',
      limitMin: 12,
      limitMax: 15,
    });
    const audit = await agent.request('GET', `/v1/audit-log?serial=${moduleSerial}&limit=50`);
    expectStatus(audit, 200);
    const actions = (audit.json as { action: string }[]).map(
      (entry: { action: string }) => entry.action,
    );
    for (const action of [
      'module.register',
      'grant.service-authorization',
      'module.installation-report',
      'grant.test-key',
      'lookup.module',
    ]) {
      expect(actions, action).toContain(action);
    }
  });
});
