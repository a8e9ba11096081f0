/**
 * Resuming a flash whose interruption came after every byte was in (PROTOCOL.md section 11): a
 * slot that is complete (all bytes written, not yet verified) reports RECEIVING with everything
 * committed, and a slot that already holds the same image verified (the cut hit flash_end's answer
 * or the activation) is not sent again: flash_begin with resume answers the whole transfer as
 * committed and flash_end accepts it. Uncompressed and with deflate segments.
 */
import { deflateRawSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { bytesEqual, sha256 } from '@mini-sharing/shared-protocol/crypto';
import {
  BootSlot,
  Compression,
  FlashState,
  type RequestInitOf,
} from '@mini-sharing/shared-protocol/messages';
import { FlashSender, type FlashOptions } from '@mini-sharing/shared-protocol/service-client';
import { firmwarePayload, openFlashKit, signedImage, type FlashKit } from './flash-test-kit.js';

const SEGMENT = 16 * 1024;
const CHUNK = 1024;

type Compressed = 'none' | 'deflate';

/** What the host sends for `image`: the image itself, or its deflate segments. */
function transferOf(image: Uint8Array, compression: Compressed) {
  const common = { imageSize: image.length, imageSha256: sha256(image), chunkSize: CHUNK };
  if (compression === 'none') {
    const begin: RequestInitOf<'flashBegin'> = {
      ...common,
      compression: Compression.NONE,
      transferSize: image.length,
    };
    return { transfer: image, begin };
  }
  const segments: Uint8Array[] = [];
  for (let offset = 0; offset < image.length; offset += SEGMENT) {
    segments.push(deflateRawSync(image.subarray(offset, offset + SEGMENT)));
  }
  const transfer = Buffer.concat(segments);
  const begin: RequestInitOf<'flashBegin'> = {
    ...common,
    compression: Compression.DEFLATE,
    transferSize: transfer.length,
    segmentSize: SEGMENT,
    segmentTransferSizes: segments.map((segment) => segment.length),
  };
  return { transfer: new Uint8Array(transfer), begin };
}

const flash = (kit: FlashKit, image: Uint8Array, compression: Compressed, options: FlashOptions) =>
  new FlashSender(kit.client).flash(image, {
    chunkSize: CHUNK,
    window: 8,
    compression,
    segmentSize: SEGMENT,
    ...options,
  });

let kit: FlashKit;
let image: Uint8Array;
beforeEach(async () => {
  kit = await openFlashKit();
  image = await signedImage(firmwarePayload(100_000));
});
afterEach(() => kit.close());

describe.each(['none', 'deflate'] as const)(
  'resume after the last byte (compression %s)',
  (compression) => {
    it('a complete slot (every byte in, not verified) reports RECEIVING with all of it committed, and resumes to flash_end', async () => {
      const { transfer, begin } = transferOf(image, compression);
      await kit.host.request('flashBegin', begin);
      for (let offset = 0; offset < transfer.length; offset += CHUNK) {
        await kit.host.request('flashData', {
          offset,
          data: transfer.subarray(offset, offset + CHUNK),
        });
      }
      // flash_end got as far as the hash check (the slot is complete), then the power went
      const writer = await kit.storage.slots.beginWrite(
        'B',
        { imageSha256: sha256(image), totalLength: image.length },
        { resume: true },
      );
      await writer.complete();
      await kit.restart({ kind: 'synced-only' });
      expect(await kit.storage.slots.info('B')).toMatchObject({ state: 'complete' });

      expect(await kit.host.request('flashStatus', {})).toMatchObject({
        state: FlashState.RECEIVING,
        transferSize: transfer.length,
        committedOffset: transfer.length,
        targetSlot: BootSlot.B,
      });
      const sender = new FlashSender(kit.client);
      const result = await sender.flash(image, {
        chunkSize: CHUNK,
        compression,
        segmentSize: SEGMENT,
        resume: true,
      });
      expect(result.startOffset).toBe(transfer.length);
      expect(sender.sentOffsets).toEqual([]);
      expect(result.end.firmwareVersion).toBe('1.2.0');
      expect(result.activate?.trialSlot).toBe(BootSlot.B);
    });

    it.each(['unplug', 'power cut'] as const)(
      'a slot holding the same image verified is not sent again (%s after flash_end)',
      async (cut) => {
        const first = await flash(kit, image, compression, { activate: false });
        expect(first.end.firmwareVersion).toBe('1.2.0');
        // flash_end's answer or the activation was lost with the cable or the power
        if (cut === 'unplug') kit.reconnect();
        else await kit.restart({ kind: 'synced-only' });
        expect(await kit.storage.slots.info('B')).toMatchObject({ state: 'verified' });
        const { transfer } = transferOf(image, compression);
        expect(await kit.host.request('flashStatus', {})).toMatchObject({
          state: FlashState.VERIFIED,
        });

        const sender = new FlashSender(kit.client);
        const result = await sender.flash(image, {
          chunkSize: CHUNK,
          compression,
          segmentSize: SEGMENT,
          resume: true,
        });
        expect(result.begin.committedOffset).toBe(transfer.length);
        expect(result.startOffset).toBe(transfer.length);
        expect(sender.sentOffsets).toEqual([]);
        expect(result.end).toMatchObject({ firmwareVersion: '1.2.0', targetSlot: BootSlot.B });
        expect(result.activate?.trialSlot).toBe(BootSlot.B);
        expect(bytesEqual(await kit.slotBytes(), image)).toBe(true);
      },
    );

    it('a verified slot is written again without resume, or for another image', async () => {
      await flash(kit, image, compression, { activate: false });
      const again = await flash(kit, image, compression, { activate: false });
      expect(again.startOffset).toBe(0);
      expect(again.end.firmwareVersion).toBe('1.2.0');

      const other = await signedImage(firmwarePayload(100_000, 2));
      const otherResult = await flash(kit, other, compression, { resume: true, activate: false });
      expect(otherResult.startOffset).toBe(0);
      expect(bytesEqual(await kit.slotBytes(), other)).toBe(true);
    });
  },
);

it('a verified slot resumes with another compression than the one it was flashed with', async () => {
  await flash(kit, image, 'none', { activate: false });
  kit.reconnect();
  const { transfer } = transferOf(image, 'deflate');
  const result = await flash(kit, image, 'deflate', { resume: true });
  expect(result.compression).toBe('deflate');
  expect(result.startOffset).toBe(transfer.length);
  expect(result.activate?.trialSlot).toBe(BootSlot.B);
  // flash_status now counts the transfer last announced
  expect(await kit.host.request('flashStatus', {})).toMatchObject({
    transferSize: transfer.length,
    committedOffset: transfer.length,
  });
});
