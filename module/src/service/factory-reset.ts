/**
 * `factory_reset` (diagnostics.proto): wipe the identity, certificate, settings, fault codes and
 * log, keep the firmware, answer, then reboot; the module comes back UNPROVISIONED.
 *
 * On a provisioned module the AuthorizationGuard has already required FACTORY_RESET. Here: the
 * request must name this module's serial (any spelling that parses to it), so a reset sent to the
 * wrong port changes nothing; and no self-test may be running (it would be moving the car).
 *
 * What is wiped is everything but the firmware's own records (KEPT_RECORDS: which slot boots, the
 * anti-rollback counter, a flash's resume point) and those the caller names in `keepRecords`: a
 * record a later part adds is wiped unless someone decided it must survive. Order: the identity
 * first (after a power cut mid-reset the old owner's identity is gone whatever else remains; the
 * host repeats the reset, which an unprovisioned module accepts without authorization), the log
 * last, ending with one entry saying what happened, so its sequence numbers keep rising.
 */
import { ErrorCode } from '@mini-sharing/shared-protocol/messages';
import {
  ServiceError,
  clipText,
  type RequestHandlers,
} from '@mini-sharing/shared-protocol/session';
import { canonicalModuleSerial } from '@mini-sharing/shared-protocol/vehicle';
import type { RecordStore } from '../storage/index.js';
import type { FaultMemory } from './fault-codes.js';
import type { IdentityStore } from './identity.js';
import type { ModuleLog } from './module-log.js';

/**
 * The firmware's own state, which a factory reset keeps: which slot boots and the anti-rollback
 * counter (boot-records.ts), and where an interrupted flash resumes (flash-transfer.ts).
 */
export const KEPT_RECORDS: readonly string[] = ['boot-state', 'security-counter', 'flash-transfer'];
const LOG_RECORD = /^log-\d+$/;
/** Time to send the answer before the module restarts. */
export const RESET_REBOOT_DELAY_MS = 200;

export interface FactoryResetOptions {
  moduleSerial: string;
  records: RecordStore;
  identity: IdentityStore;
  faults: FaultMemory;
  log: ModuleLog;
  /** What is running that a reset must not cut short (a self-test), or undefined. */
  busy(): string | undefined;
  /** Restart through the boot loader; called RESET_REBOOT_DELAY_MS after the answer went out. */
  reboot(): void;
  rebootDelayMs?: number;
  /**
   * Records kept beyond KEPT_RECORDS: another part's state that must outlive the owner's data
   * (the firmware keeps what keeps used keys and cloud commands dead; firmware-service.ts says
   * which and why).
   */
  keepRecords?: readonly string[];
  /** Runs before anything is wiped, while the identity still signs (the cloud link says OFFLINE). */
  beforeWipe?(): Promise<void>;
  /** Runs once the module is wiped and unprovisioned (advertising stops). */
  afterWipe?(): Promise<void>;
}

/** How much of what the host named a refusal quotes back. */
const MAX_NAMED_LENGTH = 40;

export function createFactoryResetService(
  options: FactoryResetOptions,
): Required<Pick<RequestHandlers, 'factoryReset'>> {
  const delayMs = options.rebootDelayMs ?? RESET_REBOOT_DELAY_MS;
  const ownSerial = canonicalModuleSerial(options.moduleSerial) ?? options.moduleSerial;
  return {
    factoryReset: async (request, context) => {
      const named = request.confirmModuleSerial;
      if (canonicalModuleSerial(named) !== ownSerial) {
        throw new ServiceError(
          ErrorCode.BAD_REQUEST,
          named.trim() === ''
            ? `A factory reset must name the module serial to confirm it (this is ${ownSerial}); nothing was reset`
            : `This is module ${ownSerial}, not ${JSON.stringify(clipText(named, MAX_NAMED_LENGTH))}: nothing was reset`,
          { moduleSerial: ownSerial },
        );
      }
      const busy = options.busy();
      if (busy !== undefined) {
        throw new ServiceError(
          ErrorCode.BUSY,
          `${busy} is running: wait for it to finish, then reset`,
        );
      }
      const kept = new Set([...KEPT_RECORDS, ...(options.keepRecords ?? [])]);
      const reboot = () => context.afterResponse(() => setTimeout(() => options.reboot(), delayMs));
      try {
        await options.beforeWipe?.();
        await options.identity.reset();
        await options.faults.clear();
        for (const name of await options.records.list()) {
          if (!kept.has(name) && !LOG_RECORD.test(name)) await options.records.delete(name);
        }
        await options.afterWipe?.();
      } catch (error) {
        // What beforeWipe stopped comes back with a restart, on what the flash holds now; the
        // host repeats the reset.
        reboot();
        throw error;
      }
      await options.log.clear(
        'service',
        'factory reset: identity, certificate, settings, fault codes and log wiped; restarting unprovisioned',
      );
      reboot();
      return { rebootInMs: delayMs };
    },
  };
}
