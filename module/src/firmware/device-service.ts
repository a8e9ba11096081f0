/** HELLO, device info and vehicle info as the application firmware answers them. */
import { helloAnswer } from '../service/hello-answer.js';
import { BootSlot, RunMode } from '@mini-sharing/shared-protocol/messages';
import type { RequestHandlers } from '@mini-sharing/shared-protocol/session';
import { isHalError, type ModuleHal } from '../hal/index.js';
import type { ModuleConfig } from '../config.js';
import type { SlotName } from '../boot/boot-decision.js';
import type { IdentityStore } from '../service/identity.js';

export interface DeviceServiceOptions {
  config: ModuleConfig;
  hal: ModuleHal;
  firmwareVersion: string;
  runningSlot: SlotName;
  startedAt: number;
  /** Provisioning state and identity key, as provisioning stored them. */
  identity: IdentityStore;
}

export function createDeviceService(options: DeviceServiceOptions): RequestHandlers {
  const { config, hal, identity } = options;
  const activeBootSlot = options.runningSlot === 'A' ? BootSlot.A : BootSlot.B;
  return {
    hello: () =>
      helloAnswer(config, {
        firmwareVersion: options.firmwareVersion,
        activeBootSlot,
        provisioningState: identity.state,
        runMode: RunMode.APPLICATION,
      }),
    deviceInfo: async () => ({
      moduleSerial: config.moduleSerial,
      hardwareRevision: config.hardwareRevision,
      firmwareVersion: options.firmwareVersion,
      activeBootSlot,
      provisioningState: identity.state,
      identityPublicKey: identity.identityPublicKey,
      uptimeMs: BigInt(Date.now() - options.startedAt),
      supplyMillivolts: await hal.supply.readMillivolts(),
      moduleTimeMs: BigInt(Math.max(0, Math.round(hal.clock.now()))),
    }),
    vehicleInfo: async () => {
      try {
        const identity = await hal.vehicle.readIdentity();
        return {
          sharingInterfacePresent: true,
          vin: identity.vin,
          optionCodes: identity.optionCodes,
          model: identity.model,
          market: identity.market,
        };
      } catch (error) {
        if (isHalError(error) && error.code === 'no-sharing-interface') {
          return { sharingInterfacePresent: false };
        }
        throw error;
      }
    },
  };
}
