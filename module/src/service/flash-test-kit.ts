/**
 * For the flash tests of this folder only: the flash service on storage over a simulated flash
 * (storage/testing), served on an in-process session. `reconnect` is an unplug (a new session,
 * the same service object, as serveServicePort does); `cutPower` stops every file step from the
 * next one on and `restart` brings the module back on what a power cut leaves (a new storage and
 * service object, as a process restart does). Images are signed with a pinned test release key.
 */
import { join } from 'node:path';
import { systemClock } from '@mini-sharing/shared-protocol/clock';
import { concatBytes, seedSigner, toHex } from '@mini-sharing/shared-protocol/crypto';
import { buildFirmwareImage } from '@mini-sharing/shared-protocol/firmware-image';
import { ServiceClient } from '@mini-sharing/shared-protocol/service-client';
import { ServiceSession, createChannelPair } from '@mini-sharing/shared-protocol/session';
import { testSeed } from '@mini-sharing/shared-protocol/trust/test-fixtures';
import { readWholeFile } from '../storage/file-ops.js';
import { openModuleStorage, type ModuleStorage } from '../storage/index.js';
import { CuttingFileOps, SimulatedFlash, type PowerCutOutcome } from '../storage/testing/index.js';
import { createFlashService } from './flash-service.js';

const ROOT = '/flash';
export const HARDWARE_REVISION = 'MSM-HW-2';
export const release = seedSigner(testSeed('flash test release'));
const otherRelease = seedSigner(testSeed('flash test release of someone else'));

/** A firmware-like payload: runs of text that compress well between runs of noise. */
export function firmwarePayload(length: number, seed = 1, textShare = 0.75): Uint8Array {
  const payload = new Uint8Array(length);
  const words = new TextEncoder().encode('function flash(slot) { return verify(slot); } // ');
  let state = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    payload[i] = i % 1024 < 1024 * textShare ? (words[i % words.length] ?? 0) : state >>> 24;
  }
  return payload;
}

/** A signed image for this kit's module (or signed by an unknown key). */
export function signedImage(
  payload: Uint8Array,
  options: { unknownKey?: boolean } = {},
): Promise<Uint8Array> {
  return buildFirmwareImage(
    {
      hardwareRevisions: [HARDWARE_REVISION],
      version: { major: 1, minor: 2, patch: 0 },
      securityCounter: 1,
      payload,
    },
    options.unknownKey ? otherRelease : release,
  );
}

export interface FlashKit {
  storage: ModuleStorage;
  host: ServiceSession;
  client: ServiceClient;
  /** Unplug and plug back in: a new session on the same service object. */
  reconnect(): void;
  /** Power off from the next file step on: every later step fails, as on a dead CPU. */
  cutPower(): void;
  /** Power back on with what the cut left (default: only synced data survives). */
  restart(outcome?: PowerCutOutcome): Promise<void>;
  /** The bytes slot B holds (below its committed offset). */
  slotBytes(): Promise<Uint8Array>;
  /** Every file of the simulated flash and its bytes, to show a refusal changed nothing. */
  snapshot(): Promise<Record<string, string>>;
  close(): Promise<void>;
}

export async function openFlashKit(): Promise<FlashKit> {
  let flash = new SimulatedFlash();
  let ops = new CuttingFileOps(flash);
  let storage = await openModuleStorage(ROOT, { fileOps: ops });
  let endSession = () => {};

  const serve = () => {
    const service = createFlashService({
      storage,
      hardwareRevision: HARDWARE_REVISION,
      pinnedKeys: [release],
      runningSlot: 'A',
      readSupplyMillivolts: async () => 14_000,
      reboot: () => {},
    });
    const connect = () => {
      const [hostEnd, moduleEnd] = createChannelPair();
      const module = new ServiceSession({ channel: moduleEnd, clock: systemClock });
      module.serve(service);
      const host = new ServiceSession({ channel: hostEnd, clock: systemClock, timeoutMs: 2000 });
      endSession = () => {
        host.close();
        module.close();
        hostEnd.close();
      };
      return host;
    };
    return connect;
  };

  let connect = serve();
  const kit: FlashKit = {
    storage,
    host: connect(),
    client: undefined as unknown as ServiceClient,
    reconnect() {
      endSession();
      kit.host = connect();
      kit.client = new ServiceClient({ session: kit.host, clock: systemClock, host: 'test' });
    },
    cutPower() {
      ops.arm(0);
    },
    async restart(outcome = { kind: 'synced-only' }) {
      endSession();
      ops.arm(0); // the old storage and service are gone with the power
      flash = flash.powerCut(outcome);
      ops = new CuttingFileOps(flash);
      storage = await openModuleStorage(ROOT, { fileOps: ops });
      kit.storage = storage;
      connect = serve();
      kit.reconnect();
    },
    async slotBytes() {
      const parts: Uint8Array[] = [];
      for await (const chunk of storage.slots.readSlot('B')) parts.push(chunk);
      return concatBytes(...parts);
    },
    async snapshot() {
      const files: Record<string, string> = {};
      for (const dir of ['records', 'slots/a', 'slots/b'].map((d) => join(ROOT, d))) {
        for (const name of await flash.readdir(dir)) {
          files[join(dir, name)] = toHex(
            (await readWholeFile(flash, join(dir, name))) ?? new Uint8Array(),
          );
        }
      }
      return files;
    },
    async close() {
      endSession();
      await storage.close().catch(() => {});
    },
  };
  kit.client = new ServiceClient({ session: kit.host, clock: systemClock, host: 'test' });
  return kit;
}
