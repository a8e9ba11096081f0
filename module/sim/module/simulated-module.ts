/**
 * A simulated sharing module: its flash (a storage folder), factory-programmed with a signed image
 * like a module leaving the factory, and its boot loader running as a process of its own that
 * reaches the car through the vehicle bus socket and the workshop through the serial line.
 * Pulling the 12 V battery kills that process; restoring it powers the module on again.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { parseFirmwareHeader } from '@mini-sharing/shared-protocol/firmware-image';
import { sha256 } from '@mini-sharing/shared-protocol/crypto';
import { CONFIG_ENV, type ModuleConfig } from '../../src/config.js';
import { openModuleStorage } from '../../src/storage/index.js';
import { writeBootState } from '../../src/service/boot-records.js';

const BOOT_MAIN = join(import.meta.dirname, '..', '..', 'src', 'boot', 'main.ts');

/**
 * Write an image into slot A and make it the active slot (factory state). The boot loader still
 * verifies it at every boot, like any image.
 */
export async function programFactoryImage(storageDir: string, image: Uint8Array): Promise<void> {
  const header = parseFirmwareHeader(image);
  if (!header.ok) throw new Error(`not a firmware image: ${header.message}`);
  const storage = await openModuleStorage(storageDir);
  try {
    const writer = await storage.slots.beginWrite('A', {
      imageSha256: sha256(image),
      totalLength: image.length,
    });
    for (let offset = 0; offset < image.length; offset += 64 * 1024) {
      await writer.append(offset, image.subarray(offset, offset + 64 * 1024));
    }
    await writer.complete();
    const { version, securityCounter } = header.header;
    await storage.slots.setSlotState('A', { state: 'verified', version, securityCounter });
    await storage.slots.setSlotState('A', { state: 'trial' });
    await storage.slots.setSlotState('A', { state: 'confirmed' });
    // the stored security counter rises only when firmware confirms itself, never from an image
    // nobody verified
    await writeBootState(storage.records, { active: 'A' });
  } finally {
    await storage.close();
  }
}

export interface SimulatedModuleOptions {
  config: ModuleConfig;
  /** Where the boot loader's and firmware's output goes; default inherit. */
  output?: 'inherit' | 'pipe' | 'ignore';
}

export class SimulatedModule {
  #process: ChildProcess | undefined;
  #exited: Promise<void> = Promise.resolve();
  #running = false;
  readonly #options: SimulatedModuleOptions;
  /** Everything the module printed (when output is 'pipe'). */
  readonly log: string[] = [];

  constructor(options: SimulatedModuleOptions) {
    this.#options = options;
  }

  get poweredOn(): boolean {
    return this.#running;
  }

  /** Power on: start the boot loader. */
  powerOn(): void {
    if (this.poweredOn) return;
    const child = spawn(process.execPath, ['--import', 'tsx', BOOT_MAIN], {
      env: { ...process.env, [CONFIG_ENV]: JSON.stringify(this.#options.config) },
      stdio: ['ignore', this.#options.output ?? 'inherit', this.#options.output ?? 'inherit'],
      detached: true, // its own process group, so power-off takes the firmware down with it
    });
    const collect = (data: Buffer) =>
      this.log.push(...data.toString('utf8').split('\n').filter(Boolean));
    child.stdout?.on('data', collect);
    child.stderr?.on('data', collect);
    this.#process = child;
    this.#running = true;
    // exitCode stays null for a process killed by a signal: track the exit event instead
    this.#exited = new Promise((resolve) =>
      child.once('exit', () => {
        this.#running = false;
        resolve();
      }),
    );
  }

  /**
   * A graceful stop (the platform's shutdown signal): the firmware closes its links (the cloud
   * link says OFFLINE) and exits; after `timeoutMs` (default 5 s) the power goes anyway.
   */
  async shutdown(timeoutMs = 5_000): Promise<void> {
    const child = this.#process;
    if (!child?.pid || !this.#running) return;
    child.kill('SIGTERM'); // the boot loader passes it on to the firmware
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timedOut = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(true), timeoutMs);
    });
    const late = await Promise.race([this.#exited.then(() => false), timedOut]);
    clearTimeout(timer);
    // the firmware may outlive the boot loader by a moment: take the whole group down
    this.#killGroup();
    if (late) await this.#exited;
  }

  /** Power off at once (12 V pulled): the boot loader and the firmware die mid-step. */
  async powerOff(): Promise<void> {
    if (!this.#process?.pid || !this.#running) return;
    this.#killGroup();
    await this.#exited;
  }

  #killGroup(): void {
    const pid = this.#process?.pid;
    if (!pid) return;
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}
