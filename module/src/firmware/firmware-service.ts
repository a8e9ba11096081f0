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
}

export interface FirmwareService {
  handlers: RequestHandlers;
  /** Call when a new session starts on the port (the guard forgets the old connection). */
  newConnection(): void;
}

/** Never logged: read-only and frequent, or (flash data) thousands per flash. */
const UNLOGGED = new Set<RequestKind>(['flashData', 'flashStatus']);

export function createFirmwareHandlers(options: FirmwareServiceOptions): FirmwareService {
  const { config, storage, hal, stores } = options;
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
