/**
 * The flash requests of the service link (PROTOCOL.md sections 11 and 13), served by both the
 * firmware and the boot loader's recovery service: the image goes to the slot that is not
 * running, is verified against the pinned release keys, this hardware revision and the stored
 * security counter, and is activated as a trial boot. A failed or abandoned flash never touches
 * the running slot.
 */
import {
  BootSlot,
  ErrorCode,
  FlashState,
  type RequestKind,
} from '@mini-sharing/shared-protocol/messages';
import { ServiceError, type RequestHandlers } from '@mini-sharing/shared-protocol/session';
import {
  FIRMWARE_HEADER_LENGTH,
  formatFirmwareVersion,
} from '@mini-sharing/shared-protocol/firmware-image';
import { activateTrial, confirmTrial, otherSlot, type SlotName } from '../boot/boot-decision.js';
import { createSlotVerifier, verifySlotImage } from './slot-verification.js';
import { StorageError, type ModuleStorage, type SlotWriter } from '../storage/index.js';
import { raiseSecurityCounter, readBootState, writeBootState } from './boot-records.js';

/** Flashing needs the charger: the 12 V supply at or above 13.0 V. */
export const FLASH_MIN_MILLIVOLTS = 13_000;
const MAX_CHUNK = 8192;
const MAX_WINDOW = 16;
export const REBOOT_DELAY_MS = 200;
/** How often a paused flash looks at the supply again. */
export const SUPPLY_POLL_MS = 250;
export const CONFIRM_WITHIN_MS = 60_000;

export interface FlashServiceOptions {
  storage: ModuleStorage;
  hardwareRevision: string;
  pinnedKeys: Array<{ publicKey: Uint8Array }>;
  /** The slot the running firmware came from; undefined in the recovery service. */
  runningSlot: SlotName | undefined;
  readSupplyMillivolts(): Promise<number>;
  /** Called after flash_activate's response is sent: restart through the boot loader. */
  reboot(): void;
}

const toBootSlot = (slot: SlotName) => (slot === 'A' ? BootSlot.A : BootSlot.B);

/** Storage refusals, as service-link errors a host can act on. */
function serviceErrorFrom(error: unknown): ServiceError {
  if (error instanceof StorageError) {
    const code =
      error.code === 'offset-gap' || error.code === 'beyond-end'
        ? ErrorCode.FLASH_OFFSET_OUT_OF_RANGE
        : error.code === 'data-mismatch'
          ? ErrorCode.BAD_REQUEST
          : ErrorCode.INTERNAL;
    return new ServiceError(code, error.message);
  }
  return new ServiceError(
    ErrorCode.INTERNAL,
    error instanceof Error ? error.message : String(error),
  );
}

const IMAGE_ERRORS: Record<string, ErrorCode> = {
  'hash-mismatch': ErrorCode.IMAGE_HASH_MISMATCH,
  'bad-signature': ErrorCode.IMAGE_SIGNATURE_INVALID,
  'unknown-key': ErrorCode.IMAGE_SIGNATURE_INVALID,
  'incompatible-hardware': ErrorCode.IMAGE_INCOMPATIBLE,
  downgrade: ErrorCode.IMAGE_DOWNGRADE,
};

export function createFlashService(
  options: FlashServiceOptions,
): Required<Pick<RequestHandlers, Extract<RequestKind, `flash${string}`>>> {
  const { storage } = options;
  let writer: SlotWriter | undefined;
  /**
   * Chunks that arrived ahead of the committed offset (an earlier one was lost on the line),
   * held in RAM until the gap is filled: the host retransmits only what is missing. Bounded by
   * the window the module granted.
   */
  let ahead = new Map<number, Uint8Array>();
  let aheadLimit = 0;
  /** The header of the image being written was checked (as soon as its bytes were in). */
  let headerChecked = false;

  /**
   * Refuse a wrong image as soon as its header is in (unknown release key, other hardware,
   * security counter below the stored one), so the mechanic does not wait for the whole transfer.
   */
  async function refuseWrongHeader(slot: SlotName): Promise<void> {
    const verifier = await createSlotVerifier(storage, options);
    let headerBytes = 0;
    for await (const chunk of storage.slots.readSlot(slot)) {
      const part = chunk.subarray(0, FIRMWARE_HEADER_LENGTH - headerBytes);
      headerBytes += part.length;
      const rejection = verifier.push(part);
      if (rejection) {
        writer = undefined;
        await storage.slots.setSlotState(slot, { state: 'invalid', reason: rejection.message });
        throw new ServiceError(
          IMAGE_ERRORS[rejection.reason] ?? ErrorCode.IMAGE_INCOMPLETE,
          rejection.message,
        );
      }
      if (headerBytes >= FIRMWARE_HEADER_LENGTH) break;
    }
  }

  /** Set while writing is paused because the supply sagged below 13.0 V. */
  let paused: { reason: string; millivolts: number } | undefined;

  /**
   * Writes only with the charger holding the supply (as for any programming on these cars): below
   * 13.0 V it stops writing, reports PAUSED through flash_status, and goes on by itself when the
   * supply recovers. The chunk's request stays unanswered meanwhile; the host retries it.
   */
  async function supplyHeld(signal: AbortSignal): Promise<void> {
    for (;;) {
      const millivolts = await options.readSupplyMillivolts();
      if (millivolts >= FLASH_MIN_MILLIVOLTS) {
        paused = undefined;
        return;
      }
      paused = {
        millivolts,
        reason: `Supply sagged to ${(millivolts / 1000).toFixed(1)} V: writing paused until the charger holds 13.0 V again`,
      };
      if (signal.aborted) throw new ServiceError(ErrorCode.CANCELLED, 'flash_data was cancelled');
      await new Promise((resolve) => setTimeout(resolve, SUPPLY_POLL_MS));
    }
  }

  async function targetSlot(): Promise<SlotName> {
    if (options.runningSlot) return otherSlot(options.runningSlot);
    return otherSlot((await readBootState(storage.records)).active);
  }

  return {
    async flashBegin(request) {
      const millivolts = await options.readSupplyMillivolts();
      if (millivolts < FLASH_MIN_MILLIVOLTS) {
        throw new ServiceError(
          ErrorCode.SUPPLY_VOLTAGE_LOW,
          `Supply is ${(millivolts / 1000).toFixed(1)} V; connect the charger (13.0 V or more) before flashing`,
          { millivolts: String(millivolts) },
        );
      }
      if (request.compression === 2) {
        throw new ServiceError(
          ErrorCode.UNSUPPORTED,
          'Deflate-compressed transfers are not supported yet',
        );
      }
      if (request.imageSha256.length !== 32 || request.imageSize === 0) {
        throw new ServiceError(
          ErrorCode.BAD_REQUEST,
          'flash_begin needs the image size and its SHA-256',
        );
      }
      const slot = await targetSlot();
      try {
        writer = await storage.slots.beginWrite(
          slot,
          { imageSha256: request.imageSha256, totalLength: request.imageSize },
          { resume: request.resume },
        );
      } catch (error) {
        throw serviceErrorFrom(error);
      }
      const chunkSize = Math.min(request.chunkSize || 4096, MAX_CHUNK);
      const window = Math.min(request.window || 8, MAX_WINDOW);
      ahead = new Map();
      aheadLimit = chunkSize * window;
      headerChecked = writer.committedOffset >= FIRMWARE_HEADER_LENGTH;
      return {
        targetSlot: toBootSlot(slot),
        committedOffset: writer.committedOffset,
        chunkSize,
        window,
      };
    },

    async flashData(request, context) {
      if (!writer) throw new ServiceError(ErrorCode.FLASH_NOT_STARTED, 'Send flash_begin first');
      await supplyHeld(context.signal);
      const current = writer;
      const { offset, data } = request;
      try {
        if (offset > current.committedOffset) {
          if (offset + data.length > current.committedOffset + aheadLimit) {
            throw new ServiceError(
              ErrorCode.FLASH_OFFSET_OUT_OF_RANGE,
              `Chunk at ${offset} is beyond the window (committed ${current.committedOffset}, window ${aheadLimit} bytes)`,
            );
          }
          if (offset + data.length > current.totalLength) {
            throw new ServiceError(
              ErrorCode.FLASH_OFFSET_OUT_OF_RANGE,
              `Chunk at ${offset} ends past the image`,
            );
          }
          ahead.set(offset, data.slice());
          return { offset, committedOffset: current.committedOffset };
        }
        let committedOffset = await current.append(offset, data);
        // the gap is filled: write what was waiting behind it, in order
        for (let next = ahead.get(committedOffset); next; next = ahead.get(committedOffset)) {
          ahead.delete(committedOffset);
          committedOffset = await current.append(committedOffset, next);
        }
        for (const held of ahead.keys()) if (held < committedOffset) ahead.delete(held);
        if (!headerChecked && committedOffset >= FIRMWARE_HEADER_LENGTH) {
          headerChecked = true;
          await refuseWrongHeader(current.slot as SlotName);
        }
        return { offset, committedOffset };
      } catch (error) {
        throw error instanceof ServiceError ? error : serviceErrorFrom(error);
      }
    },

    async flashStatus() {
      const slot = await targetSlot();
      const info = await storage.slots.info(slot);
      const state = paused
        ? FlashState.PAUSED
        : info.state === 'writing'
          ? FlashState.RECEIVING
          : info.state === 'verified' || info.state === 'trial'
            ? FlashState.VERIFIED
            : info.state === 'invalid'
              ? FlashState.FAILED
              : FlashState.IDLE;
      return {
        state,
        imageSha256: info.imageSha256 ?? new Uint8Array(),
        transferSize: info.totalLength,
        committedOffset: info.committedOffset,
        targetSlot: toBootSlot(slot),
        reason: paused?.reason ?? info.reason ?? '',
        supplyMillivolts: await options.readSupplyMillivolts(),
      };
    },

    async flashEnd() {
      const slot = await targetSlot();
      const info = await storage.slots.info(slot);
      if (info.state === 'writing' && info.committedOffset < info.totalLength) {
        throw new ServiceError(
          ErrorCode.IMAGE_INCOMPLETE,
          `Only ${info.committedOffset} of ${info.totalLength} bytes are written; resume the transfer`,
        );
      }
      if (info.state === 'writing' && writer) await writer.complete();
      const verdict = await verifySlotImage(storage, slot, options);
      if (!verdict.ok) {
        await storage.slots.setSlotState(slot, { state: 'invalid', reason: verdict.message });
        throw new ServiceError(
          IMAGE_ERRORS[verdict.reason] ?? ErrorCode.IMAGE_INCOMPLETE,
          verdict.message,
        );
      }
      const { version, securityCounter } = verdict.header;
      if ((await storage.slots.info(slot)).state !== 'verified') {
        await storage.slots.setSlotState(slot, { state: 'verified', version, securityCounter });
      }
      writer = undefined;
      return {
        targetSlot: toBootSlot(slot),
        firmwareVersion: formatFirmwareVersion(version),
        securityCounter,
      };
    },

    async flashActivate(_request, context) {
      const slot = await targetSlot();
      if ((await storage.slots.info(slot)).state !== 'verified') {
        throw new ServiceError(
          ErrorCode.NOTHING_TO_ACTIVATE,
          `Slot ${slot} holds no verified image; flash one first`,
        );
      }
      await storage.slots.setSlotState(slot, { state: 'trial' });
      await writeBootState(
        storage.records,
        activateTrial(await readBootState(storage.records), slot),
      );
      context.afterResponse(() => setTimeout(options.reboot, REBOOT_DELAY_MS));
      return {
        trialSlot: toBootSlot(slot),
        rebootInMs: REBOOT_DELAY_MS,
        confirmWithinMs: CONFIRM_WITHIN_MS,
      };
    },

    async flashConfirm() {
      const running = options.runningSlot;
      const state = await readBootState(storage.records);
      if (!running || (state.active !== running && state.trial?.slot !== running)) {
        throw new ServiceError(ErrorCode.NOTHING_TO_CONFIRM, 'No trial image is running');
      }
      return confirmRunningImage(options, running);
    },
  };
}

/**
 * The firmware confirms the image it runs (after its start-up self-check, or when asked): the
 * trial becomes the active slot and the stored security counter rises to the image's.
 */
export async function confirmRunningImage(
  options: Pick<FlashServiceOptions, 'storage'>,
  running: SlotName,
): Promise<{ confirmedSlot: BootSlot; firmwareVersion: string }> {
  const { records, slots } = options.storage;
  const state = await readBootState(records);
  const next = confirmTrial(state, running);
  if (next !== state) await writeBootState(records, next);
  const info = await slots.info(running);
  if (info.state === 'trial') await slots.setSlotState(running, { state: 'confirmed' });
  if (info.securityCounter !== undefined) await raiseSecurityCounter(records, info.securityCounter);
  return {
    confirmedSlot: toBootSlot(running),
    firmwareVersion: info.version ? formatFirmwareVersion(info.version) : '',
  };
}
