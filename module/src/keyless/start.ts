/**
 * Keyless access as the firmware starts it: the AccessController (the policy engine, which the
 * cloud link also talks to) on the module's records, and the key link on a real BLE peripheral
 * stack, advertising while the module is provisioned. A BLE stack that does not come up is
 * logged and leaves the controller working (the cloud link still needs it).
 */
import type { Bleno, HciBindingsOptions } from '@stoprocent/bleno';
import { withBindings } from '@stoprocent/bleno';
import { bytesEqual } from '@mini-sharing/shared-protocol/crypto';
import { ProvisioningState } from '@mini-sharing/shared-protocol/messages';
import { verifyModuleLinkSettings, type CloudKeyRing } from '@mini-sharing/shared-protocol/trust';
import type { ModuleClock, VehicleInterface } from '../hal/index.js';
import type { IdentityStore } from '../service/identity.js';
import type { RecordStore } from '../storage/index.js';
import type { AccessEvent, KeylessLog } from './access-events.js';
import { AccessController } from './access-controller.js';
import { AccessStateStore } from './access-state.js';
import { KeylessAdvertiser } from './ble-advertiser.js';
import { createKeyService, type KeyService } from './ble-key-service.js';
import { KeyLinkSession } from './key-link-session.js';

const COMPONENT = 'key-link';

export interface KeylessAccessDeps {
  moduleSerial: string;
  /** Provisioning state, key ring and module-link settings (advertising secret). */
  identity: IdentityStore;
  /** The module's crash-safe records (the access state is one record among them). */
  records: RecordStore;
  hal: { vehicle: VehicleInterface; clock: ModuleClock };
  log: KeylessLog;
  /**
   * The BLE peripheral: HCI bindings for bleno (`{ hciDriver: 'uart', bindParams: … }`, what the
   * virtual air's `bindings(i)` returns), a bleno instance to use, or `false` for none (the
   * controller alone, e.g. a module without a radio in a test).
   */
  ble: { bindings: HciBindingsOptions } | { bleno: Bleno } | false;
  /** Default 3000 ms (issue #7: a few seconds at most). */
  challengeValidForMs?: number;
  /** The cloud keys trusted now, if the cloud link keeps its own ring; default the identity's. */
  keyRing?: () => CloudKeyRing | undefined;
  /** How long to wait for the BLE stack to power on; default 10 s. */
  blePowerOnTimeoutMs?: number;
  /**
   * Hears every event of the controller from the very start, including what opening settles (a
   * drive that ended while the module was off): the firmware holds them for the cloud link.
   */
  onEvent?: (event: AccessEvent) => void;
}

export interface KeylessAccess {
  /** The policy engine: what the cloud link calls (booking, revocation, time sync, reset). */
  controller: AccessController;
  /** True once the key service is registered with the BLE stack. */
  readonly bleReady: boolean;
  /** The advertising data on air now, if advertising. */
  readonly advertisement: Uint8Array | undefined;
  /** Call after a provisioning commit or a factory reset: advertising follows the state. */
  provisioningChanged(): Promise<void>;
  close(): Promise<void>;
}

export async function startKeylessAccess(deps: KeylessAccessDeps): Promise<KeylessAccess> {
  const { identity, hal, log } = deps;
  const controller = await AccessController.open(
    {
      moduleSerial: deps.moduleSerial,
      keyRing: deps.keyRing ?? (() => identity.provisioned?.keyRing),
      vehicle: hal.vehicle,
      clock: hal.clock,
      store: new AccessStateStore(deps.records),
      log,
    },
    deps.onEvent,
  );

  let bleno: Bleno | undefined;
  let ownsBleno = false;
  let keyService: KeyService | undefined;
  let advertiser: KeylessAdvertiser | undefined;
  let advertisedSecret: Uint8Array | undefined;
  const unsubscribe: Array<() => void> = [];
  let following: Promise<void> = Promise.resolve();

  const followProvisioning = async () => {
    const secret = await advertisingSecret(deps);
    // Re-provisioned with another secret: advertise under the new one.
    if (advertiser && (!secret || !bytesEqual(secret, advertisedSecret ?? new Uint8Array()))) {
      await advertiser.stop();
      advertiser = undefined;
      advertisedSecret = undefined;
      if (!secret) log('info', COMPONENT, 'not provisioned: advertising stopped');
    }
    if (!advertiser && secret && bleno) {
      advertisedSecret = secret;
      advertiser = new KeylessAdvertiser({
        bleno,
        clock: hal.clock,
        vehicle: hal.vehicle,
        secret,
        bookingActive: () => controller.runningBooking !== undefined,
        log,
      });
      await advertiser.start();
      log('info', COMPONENT, 'advertising the key service');
    }
  };

  if (deps.ble) {
    try {
      if ('bleno' in deps.ble) bleno = deps.ble.bleno;
      else {
        bleno = withBindings('hci', deps.ble.bindings);
        ownsBleno = true;
      }
      await bleno.waitForPoweredOnAsync(deps.blePowerOnTimeoutMs ?? 10_000);
      keyService = createKeyService({
        bleno,
        log,
        newSession: (peer) =>
          new KeyLinkSession({
            access: controller,
            clock: hal.clock,
            log,
            peer,
            ...(deps.challengeValidForMs === undefined
              ? {}
              : { challengeValidForMs: deps.challengeValidForMs }),
          }),
      });
      await bleno.setServicesAsync([keyService.service]);
      unsubscribe.push(
        hal.clock.onChange((change) => {
          if (change.deltaMs < 0) keyService?.dropChallenges();
        }),
        controller.onEvent((event) => {
          if (event.type === 'booking-started-at-car' || event.type === 'booking-ended-at-car') {
            advertiser?.refresh();
          }
        }),
      );
      await followProvisioning();
    } catch (error) {
      log('error', COMPONENT, `the BLE key link is not available: ${String(error)}`);
    }
  }

  return {
    controller,
    get bleReady() {
      return keyService !== undefined;
    },
    get advertisement() {
      return advertiser?.advertisement;
    },
    provisioningChanged: async () => {
      if (!keyService) return;
      // One change at a time: a commit and a reset in quick succession must not interleave.
      following = following.then(followProvisioning, followProvisioning);
      await following;
    },
    close: async () => {
      for (const stop of unsubscribe.splice(0)) stop();
      await advertiser?.stop();
      keyService?.close();
      if (ownsBleno) bleno?.stop();
      await controller.close();
    },
  };
}

/** The advertising secret while provisioned with valid module-link settings; else undefined. */
async function advertisingSecret(deps: KeylessAccessDeps): Promise<Uint8Array | undefined> {
  const provisioned = deps.identity.provisioned;
  const root = deps.identity.rootPublicKey;
  if (deps.identity.state !== ProvisioningState.PROVISIONED || !provisioned || !root) return;
  const verdict = await verifyModuleLinkSettings(provisioned.moduleLinkSettings, {
    moduleSerial: deps.moduleSerial,
    rootPublicKey: root,
  });
  if (!verdict.ok) {
    deps.log('error', COMPONENT, `not advertising: ${verdict.message}`);
    return undefined;
  }
  return verdict.value.settings.advertisingSecret;
}
