/**
 * What the module link needs to know about a module, by serial: whether it may use the link, its
 * MQTT credentials (a hash) and the identity key registered at provisioning. The database-backed
 * directory implements the same interface; the in-memory one serves tests.
 */
import type { BookingHolder } from '@mini-sharing/shared-protocol/link';
import { generateModuleCredentials, type ModuleCredentials } from '../keys/module-credentials.js';

/** Only `active` modules may log in to the embedded broker and have their reports taken. */
export type ModuleLinkAccess = 'active' | 'suspended' | 'retired';

export interface RegisteredModule {
  serial: string;
  access: ModuleLinkAccess;
  /** The MQTT username provisioning gave the module (its serial). */
  username: string;
  /** `hashModulePassword` output; undefined: no credentials, so no login to the embedded broker. */
  passwordHash: string | undefined;
  /** The module identity public key (Ed25519, 32 bytes) the cloud registered for this serial. */
  identityPublicKey: Uint8Array;
}

export interface ModuleDirectory {
  /** The module with this serial, or undefined when the cloud does not know it. */
  find(serial: string): Promise<RegisteredModule | undefined>;
  /**
   * Who holds the booking running on the module's car now (undefined: none). The link drops a
   * telemetry position that breaks the location rule (PROTOCOL.md 16.5). Without this method the
   * cloud cannot check, and keeps positions.
   */
  runningBooking?(serial: string): Promise<BookingHolder | undefined>;
}

export class InMemoryModuleDirectory implements ModuleDirectory {
  readonly #modules = new Map<string, RegisteredModule>();
  readonly #bookings = new Map<string, BookingHolder>();

  /** Registers (or re-registers) a module with new credentials; returns them (shown once). */
  async register(module: {
    serial: string;
    identityPublicKey: Uint8Array;
    access?: ModuleLinkAccess;
  }): Promise<ModuleCredentials> {
    const { credentials, passwordHash } = await generateModuleCredentials(module.serial);
    this.put({
      serial: module.serial,
      access: module.access ?? 'active',
      username: credentials.username,
      passwordHash,
      identityPublicKey: module.identityPublicKey,
    });
    return credentials;
  }

  put(module: RegisteredModule): void {
    this.#modules.set(module.serial, { ...module });
  }

  setAccess(serial: string, access: ModuleLinkAccess): void {
    const module = this.#modules.get(serial);
    if (!module) throw new Error(`no module ${serial}`);
    module.access = access;
  }

  setRunningBooking(serial: string, holder: BookingHolder | undefined): void {
    if (holder) this.#bookings.set(serial, holder);
    else this.#bookings.delete(serial);
  }

  async find(serial: string): Promise<RegisteredModule | undefined> {
    const module = this.#modules.get(serial);
    return module && { ...module };
  }

  async runningBooking(serial: string): Promise<BookingHolder | undefined> {
    return this.#bookings.get(serial);
  }
}
