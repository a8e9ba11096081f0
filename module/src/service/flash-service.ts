/**
 * The flash requests of the service link (PROTOCOL.md sections 11 and 13), served by both the
 * firmware and the boot loader's recovery service: the image goes to the slot that is not
 * running, is verified against the pinned release keys, this hardware revision and the stored
 * security counter, and is activated as a trial boot. A failed or abandoned flash never touches
 * the running slot. The bytes on the line are the image or its deflate segments
 * (flash-transfer.ts, flash-receiver.ts). One service object outlives the sessions on the port,
 * so a transfer resumes after an unplug; after a power cut it resumes from what the slot holds.
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
import type { ModuleStorage } from '../storage/index.js';
import { raiseSecurityCounter, readBootState, writeBootState } from './boot-records.js';
import {
  rawReceiver,
  segmentReceiver,
  serviceErrorFrom,
  type TransferReceiver,
} from './flash-receiver.js';
import {
  committedTransferOffset,
  describeTransfer,
  recallTransfer,
  rememberTransfer,
} from './flash-transfer.js';

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
  /** The transfer since the last flash_begin; gone when it ended or its image was refused. */
  let receiver: TransferReceiver | undefined;
  /** The header of the image being written was checked (as soon as its bytes were in). */
  let headerChecked = false;
  /** flash_data requests being handled: flash_end waits for those that arrived before it. */
  const chunksInFlight = new Set<Promise<unknown>>();

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
        receiver = undefined;
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

  /**
   * The slot holds exactly this image (hash and size), verified and not (yet) booted: a resume
   * has nothing left to send. Storage would start such a slot over, so flash_begin asks first.
   */
  async function holdsVerified(
    slot: SlotName,
    image: { imageSha256: Uint8Array; imageSize: number },
  ): Promise<boolean> {
    const info = await storage.slots.info(slot);
    return (
      info.state === 'verified' &&
      info.totalLength === image.imageSize &&
      info.imageSha256 !== undefined &&
      Buffer.from(info.imageSha256).equals(Buffer.from(image.imageSha256))
    );
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
      if (request.imageSha256.length !== 32 || request.imageSize === 0) {
        throw new ServiceError(
          ErrorCode.BAD_REQUEST,
          'flash_begin needs the image size and its SHA-256',
        );
      }
      // checked before anything changes: a refused flash_begin leaves the slot as it was
      const transfer = describeTransfer(request);
      const slot = await targetSlot();
      receiver = undefined;
      const chunkSize = Math.min(request.chunkSize || 4096, MAX_CHUNK);
      const window = Math.min(request.window || 8, MAX_WINDOW);
      if (request.resume && (await holdsVerified(slot, request))) {
        // The slot already holds this very image, verified: the cut came after flash_end (its
        // answer, or the activation, was lost). Nothing to send again: every transfer byte counts
        // as committed, and flash_end checks the image once more before it answers.
        await rememberTransfer(storage.records, slot, request.imageSha256, transfer);
        return {
          targetSlot: toBootSlot(slot),
          committedOffset: transfer.transferSize,
          chunkSize,
          window,
        };
      }
      try {
        // The slot resumes the same image (hash and size) from the image bytes it holds, whatever
        // the earlier transfer looked like; the receiver maps them to this transfer.
        const writer = await storage.slots.beginWrite(
          slot,
          { imageSha256: request.imageSha256, totalLength: request.imageSize },
          { resume: request.resume },
        );
        await rememberTransfer(storage.records, slot, request.imageSha256, transfer);
        const receiverOptions = {
          writer,
          aheadLimit: chunkSize * window,
          afterWrite: async (imageCommitted: number) => {
            if (!headerChecked && imageCommitted >= FIRMWARE_HEADER_LENGTH) {
              headerChecked = true;
              await refuseWrongHeader(slot);
            }
          },
        };
        receiver =
          transfer.compression === 'none'
            ? rawReceiver(transfer, receiverOptions)
            : segmentReceiver(transfer, receiverOptions);
        headerChecked = writer.committedOffset >= FIRMWARE_HEADER_LENGTH;
      } catch (error) {
        throw serviceErrorFrom(error);
      }
      return {
        targetSlot: toBootSlot(slot),
        committedOffset: receiver.committedOffset,
        chunkSize,
        window,
      };
    },

    flashData(request, context) {
      const handling = (async () => {
        if (!receiver) {
          throw new ServiceError(ErrorCode.FLASH_NOT_STARTED, 'Send flash_begin first');
        }
        await supplyHeld(context.signal);
        // looked up again: the transfer may have ended (image refused) while the supply was low
        const current = receiver;
        if (!current) {
          throw new ServiceError(ErrorCode.FLASH_NOT_STARTED, 'Send flash_begin first');
        }
        const { offset, data } = request;
        try {
          return { offset, committedOffset: await current.receive(offset, data) };
        } catch (error) {
          throw serviceErrorFrom(error);
        }
      })();
      chunksInFlight.add(handling);
      void handling.catch(() => {}).finally(() => chunksInFlight.delete(handling));
      return handling;
    },

    async flashStatus() {
      const slot = await targetSlot();
      const info = await storage.slots.info(slot);
      // in transfer bytes, as flash_data reports them, also after a restart
      const transfer =
        info.imageSha256 &&
        (receiver?.transfer ?? (await recallTransfer(storage.records, slot, info.imageSha256)));
      const matches = transfer && transfer.imageSize === info.totalLength;
      // 'complete' (every byte written, not yet verified, e.g. power cut right after the last
      // chunk) is still receiving, with committed == total: flash_end is the next step
      const state = paused
        ? FlashState.PAUSED
        : info.state === 'writing' || info.state === 'complete'
          ? FlashState.RECEIVING
          : info.state === 'verified' || info.state === 'trial'
            ? FlashState.VERIFIED
            : info.state === 'invalid'
              ? FlashState.FAILED
              : FlashState.IDLE;
      return {
        state,
        imageSha256: info.imageSha256 ?? new Uint8Array(),
        transferSize: matches ? transfer.transferSize : info.totalLength,
        committedOffset: matches
          ? committedTransferOffset(transfer, info.committedOffset)
          : info.committedOffset,
        targetSlot: toBootSlot(slot),
        reason: paused?.reason ?? info.reason ?? '',
        supplyMillivolts: await options.readSupplyMillivolts(),
      };
    },

    async flashEnd() {
      const slot = await targetSlot();
      // the chunks sent before it may still be on their way to the slot (a segment being written)
      await Promise.allSettled([...chunksInFlight]);
      const info = await storage.slots.info(slot);
      if (info.state === 'empty') {
        // nothing begun: refused without a change (not marked invalid for holding no image)
        throw new ServiceError(
          ErrorCode.FLASH_NOT_STARTED,
          `Nothing was flashed to slot ${slot}: send flash_begin first`,
        );
      }
      if (info.state === 'writing' && info.committedOffset < info.totalLength) {
        throw new ServiceError(
          ErrorCode.IMAGE_INCOMPLETE,
          `Only ${info.committedOffset} of ${info.totalLength} image bytes are written; resume the transfer`,
        );
      }
      if (info.state === 'writing' && receiver) {
        try {
          await receiver.writer.complete();
        } catch (error) {
          throw serviceErrorFrom(error);
        }
      }
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
      receiver = undefined;
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
