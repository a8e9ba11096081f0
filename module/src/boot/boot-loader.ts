/**
 * The boot loader as a process: pick the slot to start (boot-decision.ts), start its payload as
 * the firmware process, and start again when the firmware asks to reboot or dies; when no slot
 * can boot, serve the recovery service on the serial port until a good image is activated.
 */
import { helloAnswer } from '../service/hello-answer.js';
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { FIRMWARE_HEADER_LENGTH } from '@mini-sharing/shared-protocol/firmware-image';
import { BootSlot, RunMode } from '@mini-sharing/shared-protocol/messages';
import type { RequestHandlers } from '@mini-sharing/shared-protocol/session';
import type { ModuleConfig } from '../config.js';
import { CONFIG_ENV } from '../config.js';
import { openModuleStorage, type ModuleStorage } from '../storage/index.js';
import { readBootState, writeBootState } from '../service/boot-records.js';
import { createFlashService } from '../service/flash-service.js';
import { verifySlotImage } from '../service/slot-verification.js';
import { serveServicePort } from '../service/service-endpoint.js';
import { decideBoot, type SlotName } from './boot-decision.js';
import { pinnedCloudRootKey, pinnedReleaseKeys } from './pinned-keys.js';
import type { ModuleClock } from '../hal/index.js';
import { AuthorizationGuard } from '../service/authorization.js';
import { IdentityStore } from '../service/identity.js';
import { REBOOT_EXIT_CODE, RUNNING_SLOT_ENV, TRIAL_ENV } from './process-contract.js';

export const BOOT_LOADER_VERSION = '1.0.0';

export interface BootLoaderOptions {
  config: ModuleConfig;
  /** Where the platform's native modules live (NODE_PATH for the firmware). */
  platformModules: string;
  log(message: string): void;
  /** The recovery service needs the supply voltage; the boot loader reads it from the platform. */
  readSupplyMillivolts(): Promise<number>;
  /** The module clock, for service authorizations in the recovery service. */
  clock: ModuleClock;
}

export type BootOutcome =
  { kind: 'firmware-exited'; slot: SlotName; code: number | null } | { kind: 'recovery-done' };

async function verifySlot(storage: ModuleStorage, slot: SlotName, hardwareRevision: string) {
  if ((await storage.slots.info(slot)).state === 'empty') return 'empty' as const;
  return verifySlotImage(storage, slot, { pinnedKeys: pinnedReleaseKeys(), hardwareRevision });
}

/** The payload of a slot's image (what the boot loader "loads into RAM"), as a file to run. */
async function extractPayload(
  storage: ModuleStorage,
  slot: SlotName,
  payloadLength: number,
  path: string,
) {
  const parts: Uint8Array[] = [];
  let offset = 0;
  for await (const chunk of storage.slots.readSlot(slot)) {
    const start = Math.max(0, FIRMWARE_HEADER_LENGTH - offset);
    const end = Math.min(chunk.length, FIRMWARE_HEADER_LENGTH + payloadLength - offset);
    if (end > start) parts.push(chunk.subarray(start, end));
    offset += chunk.length;
  }
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, Buffer.concat(parts));
}

/** One power-on-to-reboot cycle. */
export async function bootOnce(options: BootLoaderOptions): Promise<BootOutcome> {
  const { config, log } = options;
  const storage = await openModuleStorage(config.storageDir);
  const state = await readBootState(storage.records);
  const decision = await decideBoot(state, (slot) =>
    verifySlot(storage, slot, config.hardwareRevision),
  );
  decision.notes.forEach(log);
  await writeBootState(storage.records, decision.nextState);
  if (state.trial?.attempted && decision.action === 'boot' && !decision.trial) {
    await storage.slots
      .setSlotState(state.trial.slot, { state: 'invalid', reason: 'never confirmed' })
      .catch(() => {});
  }

  if (decision.action === 'recovery') return serveRecovery(options, storage);

  const runFile = join(config.storageDir, '..', 'run', `firmware-${config.moduleSerial}.cjs`);
  await extractPayload(storage, decision.slot, decision.header.payloadLength, runFile);
  await storage.close(); // the firmware opens the storage itself
  const { major, minor, patch } = decision.header.version;
  log(
    `starting firmware ${major}.${minor}.${patch} from slot ${decision.slot}${decision.trial ? ' (trial)' : ''}`,
  );
  const child = spawn(process.execPath, [runFile], {
    stdio: 'inherit',
    env: {
      ...process.env,
      [CONFIG_ENV]: JSON.stringify(config),
      [RUNNING_SLOT_ENV]: decision.slot,
      [TRIAL_ENV]: decision.trial ? '1' : '0',
      NODE_PATH: options.platformModules,
    },
  });
  const stopChild = () => child.kill('SIGTERM');
  process.once('SIGTERM', stopChild);
  const code = await new Promise<number | null>((resolve) =>
    child.once('exit', (exitCode) => resolve(exitCode)),
  );
  process.off('SIGTERM', stopChild);
  return { kind: 'firmware-exited', slot: decision.slot, code };
}

/**
 * The recovery service's hello and device info. The provisioning state is the stored one: a
 * provisioned module in recovery still is provisioned (and needs authorizations to be flashed).
 */
export function recoveryDeviceHandlers(
  config: ModuleConfig,
  running: {
    activeSlot: SlotName;
    identity: IdentityStore;
    readSupplyMillivolts(): Promise<number>;
  },
): Pick<RequestHandlers, 'hello' | 'deviceInfo'> {
  const { identity } = running;
  const activeBootSlot = running.activeSlot === 'A' ? BootSlot.A : BootSlot.B;
  return {
    hello: () =>
      helloAnswer(config, {
        firmwareVersion: BOOT_LOADER_VERSION,
        activeBootSlot,
        provisioningState: identity.state,
        runMode: RunMode.RECOVERY,
      }),
    deviceInfo: async () => ({
      moduleSerial: config.moduleSerial,
      hardwareRevision: config.hardwareRevision,
      bootLoaderVersion: BOOT_LOADER_VERSION,
      activeBootSlot,
      provisioningState: identity.state,
      identityPublicKey: identity.identityPublicKey,
      supplyMillivolts: await running.readSupplyMillivolts(),
    }),
  };
}

/** Minimal recovery service: hello, device info, flash, activate. Returns after activation. */
async function serveRecovery(
  options: BootLoaderOptions,
  storage: ModuleStorage,
): Promise<BootOutcome> {
  try {
    return await runRecoveryService(options, storage);
  } catch (error) {
    // the boot loader boots again (runBootLoader): let go of the storage first
    await storage.close().catch(() => {});
    throw error;
  }
}

async function runRecoveryService(
  options: BootLoaderOptions,
  storage: ModuleStorage,
): Promise<BootOutcome> {
  const { config, log } = options;
  let activated: () => void = () => {};
  const done = new Promise<void>((resolve) => (activated = resolve));
  const active = (await readBootState(storage.records)).active;
  // the same authorization rules as the firmware: a provisioned module in recovery still needs a
  // service authorization to be flashed (PROTOCOL.md section 10)
  const identity = await IdentityStore.open(storage.records, pinnedCloudRootKey());
  const authorization = new AuthorizationGuard({
    identity,
    moduleSerial: config.moduleSerial,
    clock: options.clock,
  });
  // The cable may well be out (a module in a car has none): the endpoint waits for the port and
  // never fails because of it, so the recovery service answers whenever the cable comes.
  const endpoint = await serveServicePort(
    config.serialPort,
    {
      ...authorization.handlers,
      ...recoveryDeviceHandlers(config, {
        activeSlot: active,
        identity,
        readSupplyMillivolts: options.readSupplyMillivolts,
      }),
      ...authorization.guard(
        createFlashService({
          storage,
          hardwareRevision: config.hardwareRevision,
          pinnedKeys: pinnedReleaseKeys(),
          runningSlot: undefined,
          readSupplyMillivolts: options.readSupplyMillivolts,
          reboot: () => activated(),
        }),
      ),
    },
    { onSession: () => authorization.newConnection(), log },
  );
  log(`recovery service on ${config.serialPort}: flash a signed image to continue`);
  await done;
  await endpoint.close().catch(() => {});
  await storage.close();
  return { kind: 'recovery-done' };
}

const describeError = (error: unknown) => (error instanceof Error ? error.message : String(error));

/** Power on: boot, and boot again after every reboot request or crash, until stopped. */
export async function runBootLoader(
  options: BootLoaderOptions,
  signal: AbortSignal,
): Promise<void> {
  let crashes = 0;
  let failures = 0;
  while (!signal.aborted) {
    let outcome: BootOutcome;
    try {
      outcome = await bootOnce(options);
    } catch (error) {
      // The boot loader must never die: a module whose boot loader is gone answers nothing until
      // its supply is cut. Whatever failed (a serial port error in the recovery service, a
      // storage hiccup), log it and boot again, backing off so a lasting fault cannot spin.
      failures += 1;
      options.log(`boot cycle failed: ${describeError(error)}: booting again`);
      await new Promise((resolve) => setTimeout(resolve, Math.min(5000, 200 * failures)));
      continue;
    }
    failures = 0;
    if (signal.aborted) return;
    if (
      outcome.kind === 'firmware-exited' &&
      outcome.code !== REBOOT_EXIT_CODE &&
      outcome.code !== 0
    ) {
      crashes += 1;
      options.log(
        `firmware in slot ${outcome.slot} stopped with code ${String(outcome.code)}: restarting`,
      );
      // a crashing image is reverted by the boot decision; back off so a loop cannot spin
      await new Promise((resolve) => setTimeout(resolve, Math.min(5000, 200 * crashes)));
    } else {
      crashes = 0;
    }
    if (outcome.kind === 'firmware-exited' && outcome.code === 0) return;
  }
}
