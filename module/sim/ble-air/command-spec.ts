import type { HciController } from './controller.js';
import { STATUS } from './hci.js';

// The shape of a modelled HCI command, and helpers the command tables share.

export type CommandResult = ArrayLike<number>;

export interface CommandSpec {
  /** Parameter length the command must have. */
  length: number;
  /** Command Complete carries `run`'s result; Command Status carries its first byte. */
  reply: 'complete' | 'status';
  run(controller: HciController, params: DataView): CommandResult;
}

export const u16 = (value: number) => [value & 0xff, (value >> 8) & 0xff];
export const ok: CommandResult = [STATUS.success];

export function eventMask(params: DataView): bigint {
  return params.getBigUint64(0, true);
}

export function validRange(range: {
  intervalMin: number;
  intervalMax: number;
  latency: number;
  timeout: number;
}): boolean {
  const { intervalMin, intervalMax, latency, timeout } = range;
  if (intervalMin < 0x0006 || intervalMax > 0x0c80 || intervalMin > intervalMax) return false;
  if (latency > 0x01f3 || timeout < 0x000a || timeout > 0x0c80) return false;
  // The timeout must outlast (1 + latency) intervals twice over (Vol 4 Part E 7.8.12).
  return timeout * 10 > (1 + latency) * intervalMax * 1.25 * 2;
}

export function bytesOf(view: DataView): Uint8Array {
  return new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
}
