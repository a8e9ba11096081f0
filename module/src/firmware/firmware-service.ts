/**
 * Everything the application firmware serves on the service link, assembled in one place so the
 * firmware process (main.ts), the service tests and an in-process fuzzer run the same handlers:
 * device info, the module challenge, and, behind the AuthorizationGuard, flashing, provisioning,
 * self-tests, fault codes and factory reset; the log read.
 *
 * Every state-changing request the module accepts or refuses leaves a line in the module log
 * (flash data chunks excepted: thousands per flash), so a technician can see later who tried what.
 */
import { changesState, ErrorCode, type RequestKind } from '@mini-sharing/shared-protocol/messages';
import {
  ServiceError,
  type RequestContext,
  type RequestHandlers,
} from '@mini-sharing/shared-protocol/session';
import type { ModuleConfig } from '../config.js';
import type { SlotName } from '../boot/boot-decision.js';
import type { ModuleHal } from '../hal/index.js';
import type { ModuleStorage, RecordStore } from '../storage/index.js';
import { AuthorizationGuard, type AuthorizationGuardOptions } from '../service/authorization.js';
import { createFactoryResetService } from '../service/factory-reset.js';
import { FaultMemory } from '../service/fault-codes.js';
import { createFlashService } from '../service/flash-service.js';
import { IdentityStore } from '../service/identity.js';
import { ModuleLog, type ModuleLogOptions } from '../service/module-log.js';
import { createProvisioningService } from '../service/provisioning.js';
import { createSelfTestService, type SelfTestServiceOptions } from '../service/self-tests.js';
import { createDeviceService } from './device-service.js';
// The record names only, not the parts' index files: the service tests need neither bleno nor mqtt.
import { COMMAND_MEMORY_RECORD } from '../cloud-link/command-memory.js';
import { ACCESS_STATE_RECORD } from '../keyless/access-state.js';

/** What the firmware keeps in its records beyond the boot state: identity, faults, log. */
export interface FirmwareStores {
  identity: IdentityStore;
  faults: FaultMemory;
  log: ModuleLog;
}

export async function openFirmwareStores(
  records: RecordStore,
  options: {
    /** The pinned cloud root key (undefined: this build pins none). */
    rootPublicKey: Uint8Array | undefined;
    /** The module clock, for fault and log times. */
    now: () => number;
    logTimers?: ModuleLogOptions['timers'];
  },
): Promise<FirmwareStores> {
  const identity = await IdentityStore.open(records, options.rootPublicKey);
  const log = await ModuleLog.open(records, {
    now: options.now,
    ...(options.logTimers ? { timers: options.logTimers } : {}),
  });
  const faults = await FaultMemory.open(records, {
    now: options.now,
    onDamaged: (message) => log.append('warn', 'faults', message),
  });
  return { identity, faults, log };
}

export interface FirmwareServiceOptions {
  config: ModuleConfig;
  storage: ModuleStorage;
  hal: ModuleHal;
  stores: FirmwareStores;
  firmwareVersion: string;
  runningSlot: SlotName;
  /** Date.now() at start, for the uptime. */
  startedAt: number;
  pinnedReleaseKeys: Array<{ publicKey: Uint8Array }>;
  /** Restart through the boot loader (after flash_activate and a factory reset). */
  reboot(): void;
  /** The clock service authorizations are checked against; default the HAL's. */
  clock?: AuthorizationGuardOptions['clock'];
  /** Monotonic time for challenge expiry; default performance.now. */
  challengeElapsedMs?: () => number;
  selfTests?: Pick<SelfTestServiceOptions, 'elapsedMs' | 'gnssFixWaitMs' | 'gnssPollMs'>;
  /** What runs for sharing (keyless access, the cloud link), told about provisioning changes. */
  sharing?: SharingHooks;
}

/** How the service link tells the sharing parts (firmware/sharing.ts) what it changed. */
export interface SharingHooks {
  /** A provisioning commit was stored (its answer is out): start what a provisioned module runs. */
  provisioningCommitted(): void;
  /** A factory reset is about to wipe: stop what signs with the identity. */
  beforeFactoryReset(): Promise<void>;
  /** The wipe is done: the module is unprovisioned. */
  afterFactoryReset(): Promise<void>;
}

export interface FirmwareService {
  handlers: RequestHandlers;
  /** Call when a new session starts on the port (the guard forgets the old connection). */
  newConnection(): void;
}

/**
 * Records a factory reset keeps (beyond the firmware's own): the keyless access state and the
 * cloud link's command memory. A factory reset needs a service authorization but not the owner's
 * physical keys, so it must not undo what keeps keys and commands dead: the trusted-time floor (a
 * clock set back would revive expired keys), the owner generation (a previous owner's key stays
 * dead; only the cloud's new-owner reset, confirmed with both keys in the cabin, starts a new
 * owner era), the revocation list and its sequence (a revoked phone never opens the car again),
 * counters and ended bookings (used up stays used up), and the command ids (a recorded command
 * cannot be replayed). The running booking stays with them: the command memory says which
 * retained booking state was applied, and the two must agree. All of it names tokens and
 * bookings by id only; the identity, certificate, settings, faults and log still go.
 */
export const SHARING_RECORDS_KEPT_BY_RESET: readonly string[] = [
  ACCESS_STATE_RECORD,
  COMMAND_MEMORY_RECORD,
];

/** Never logged: read-only and frequent, or (flash data) thousands per flash. */
const UNLOGGED = new Set<RequestKind>(['flashData', 'flashStatus']);

export function createFirmwareHandlers(options: FirmwareServiceOptions): FirmwareService {
  const { config, storage, hal, stores, sharing } = options;
  const { identity, faults, log } = stores;
  const guard = new AuthorizationGuard({
    identity,
    moduleSerial: config.moduleSerial,
    clock: options.clock ?? hal.clock,
    ...(options.challengeElapsedMs ? { elapsedMs: options.challengeElapsedMs } : {}),
  });
  const selfTests = createSelfTestService({
    hal,
    identity,
    faults,
    log,
    moduleSerial: config.moduleSerial,
    ...options.selfTests,
  });
  const guarded = guard.guard({
    ...createFlashService({
      storage,
      hardwareRevision: config.hardwareRevision,
      pinnedKeys: options.pinnedReleaseKeys,
      runningSlot: options.runningSlot,
      readSupplyMillivolts: () => hal.supply.readMillivolts(),
      reboot: options.reboot,
    }),
    ...createProvisioningService({
      identity,
      moduleSerial: config.moduleSerial,
      vehicle: hal.vehicle,
      ...(sharing ? { afterCommit: () => sharing.provisioningCommitted() } : {}),
    }),
    ...selfTests.handlers,
    faultCodesClear: faults.handlers.faultCodesClear,
    ...createFactoryResetService({
      moduleSerial: config.moduleSerial,
      records: storage.records,
      identity,
      faults,
      log,
      busy: () => (selfTests.running ? 'A self-test run' : undefined),
      reboot: options.reboot,
      keepRecords: SHARING_RECORDS_KEPT_BY_RESET,
      ...(sharing
        ? {
            beforeWipe: () => sharing.beforeFactoryReset(),
            afterWipe: () => sharing.afterFactoryReset(),
          }
        : {}),
    }),
  });
  return {
    handlers: {
      ...createDeviceService({
        config,
        hal,
        firmwareVersion: options.firmwareVersion,
        runningSlot: options.runningSlot,
        startedAt: options.startedAt,
        identity,
      }),
      ...guard.handlers,
      faultCodesRead: faults.handlers.faultCodesRead,
      ...log.handlers,
      ...auditLogged(guarded, stores.log),
    },
    newConnection: () => guard.newConnection(),
  };
}

/** Each handler, leaving a line in the module log when it accepts or refuses a request. */
function auditLogged(handlers: RequestHandlers, log: ModuleLog): RequestHandlers {
  const logged: Record<string, unknown> = {};
  for (const [kind, handler] of Object.entries(handlers) as Array<
    [RequestKind, (request: unknown, context: RequestContext) => unknown]
  >) {
    if (UNLOGGED.has(kind) || !changesState(kind)) {
      logged[kind] = handler;
      continue;
    }
    logged[kind] = async (request: unknown, context: RequestContext) => {
      try {
        const response = await handler(request, context);
        log.append('info', 'service', `${kind} done`);
        return response;
      } catch (error) {
        const code = error instanceof ServiceError ? ErrorCode[error.code] : 'INTERNAL';
        const reason = error instanceof Error ? error.message : String(error);
        log.append('warn', 'service', `${kind} refused (${code}): ${reason}`);
        throw error;
      }
    };
  }
  return logged as RequestHandlers;
}
