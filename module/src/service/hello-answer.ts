/** The HELLO answer, shared by the application firmware and the boot loader's recovery service. */
import { DEFAULT_MAX_FRAME_SIZE } from '@mini-sharing/shared-protocol/framing';
import {
  PROTOCOL_VERSION,
  type BootSlot,
  type ProvisioningState,
  type ResponseInitOf,
  type RunMode,
} from '@mini-sharing/shared-protocol/messages';
import { BAUD_RATES } from '@mini-sharing/shared-protocol/session';
import type { ModuleConfig } from '../config.js';

export function helloAnswer(
  config: ModuleConfig,
  running: {
    firmwareVersion: string;
    activeBootSlot: BootSlot;
    provisioningState: ProvisioningState;
    runMode: RunMode;
  },
): ResponseInitOf<'hello'> {
  return {
    protocolMajor: PROTOCOL_VERSION.major,
    protocolMinor: PROTOCOL_VERSION.minor,
    moduleSerial: config.moduleSerial,
    hardwareRevision: config.hardwareRevision,
    ...running,
    maxFrameSize: DEFAULT_MAX_FRAME_SIZE,
    baudRates: [...BAUD_RATES],
  };
}
