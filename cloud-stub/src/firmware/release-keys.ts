/** The release keys firmware images must be signed with, from the configuration (hex). */
import { fromHex } from '@mini-sharing/shared-protocol/crypto';
import type { CloudConfig } from '../config.js';
import type { ReleaseKey } from './catalog.js';

export const releaseKeysOf = (config: Pick<CloudConfig, 'firmware'>): ReleaseKey[] =>
  config.firmware.releasePublicKeys.map((hex) => ({ publicKey: fromHex(hex) }));
