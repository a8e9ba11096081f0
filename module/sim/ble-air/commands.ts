import type { HciController } from './controller.js';
import type { CommandSpec } from './command-spec.js';
import { eventMask, ok, u16 } from './command-spec.js';
import { DISCONNECT_REASONS, OP, STATUS } from './hci.js';
import { LE_COMMANDS } from './le-commands.js';

// What Read Local Version Information reports: HCI and LMP 5.0 (noble and bleno want >= 0x06),
// manufacturer 0xFFFF ("reserved for testing"), so no host tries vendor commands on it.
const HCI_VERSION = 0x09;
const MANUFACTURER = 0xffff;
// LMP features: "LE Supported (Controller)" and "BR/EDR Not Supported" (bits 38 and 37).
const LMP_FEATURES = [0, 0, 0, 0, 0x60, 0, 0, 0];

/** Supported_Commands bit positions (octet, bit) from Vol 4 Part E 6.27. */
const SUPPORTED_COMMAND_BITS: Array<[number, number]> = [
  [0, 5], // Disconnect
  [5, 6], // Set Event Mask
  [5, 7], // Reset
  [14, 3], // Read Local Version Information
  [14, 5], // Read Local Supported Features
  [14, 7], // Read Buffer Size
  [15, 1], // Read BD_ADDR
  [15, 5], // Read RSSI
  [24, 5], // Read LE Host Support
  [24, 6], // Write LE Host Support
  [25, 0], // LE Set Event Mask
  [25, 1], // LE Read Buffer Size
  [25, 2], // LE Read Local Supported Features
  [25, 4], // LE Set Random Address
  [25, 5], // LE Set Advertising Parameters
  [25, 6], // LE Read Advertising Physical Channel Tx Power
  [25, 7], // LE Set Advertising Data
  [26, 0], // LE Set Scan Response Data
  [26, 1], // LE Set Advertising Enable
  [26, 2], // LE Set Scan Parameters
  [26, 3], // LE Set Scan Enable
  [26, 4], // LE Create Connection
  [26, 5], // LE Create Connection Cancel
  [27, 2], // LE Connection Update
  [33, 6], // LE Set Data Length
  [33, 7], // LE Read Suggested Default Data Length
  [34, 0], // LE Write Suggested Default Data Length
  [35, 3], // LE Read Maximum Data Length
];

function supportedCommands(): number[] {
  const bitmap = new Array<number>(64).fill(0);
  for (const [octet, bit] of SUPPORTED_COMMAND_BITS) bitmap[octet]! |= 1 << bit;
  return bitmap;
}

/** Link control, baseband, informational and status commands the controller models. */
const CONTROLLER_COMMANDS = new Map<number, CommandSpec>([
  [
    OP.disconnect,
    {
      length: 3,
      reply: 'status',
      run: (controller, params) => {
        const reason = params.getUint8(2);
        if (!DISCONNECT_REASONS.has(reason)) return [STATUS.invalidParameters];
        return [controller.radio!.disconnect(controller, params.getUint16(0, true), reason)];
      },
    },
  ],
  [
    OP.setEventMask,
    {
      length: 8,
      reply: 'complete',
      run: (controller, params) => {
        controller.eventMask = eventMask(params);
        return ok;
      },
    },
  ],
  [OP.reset, { length: 0, reply: 'complete', run: (controller) => (controller.reset(), ok) }],
  [
    OP.readLeHostSupported,
    {
      length: 0,
      reply: 'complete',
      run: (controller) => [STATUS.success, controller.leHostSupported ? 1 : 0, 0],
    },
  ],
  [
    OP.writeLeHostSupported,
    {
      length: 2,
      reply: 'complete',
      run: (controller, params) => {
        controller.leHostSupported = params.getUint8(0) === 1;
        return ok;
      },
    },
  ],
  [
    OP.readLocalVersion,
    {
      length: 0,
      reply: 'complete',
      run: () => [STATUS.success, HCI_VERSION, ...u16(0), HCI_VERSION, ...u16(MANUFACTURER), 0, 0],
    },
  ],
  [
    OP.readLocalCommands,
    { length: 0, reply: 'complete', run: () => [STATUS.success, ...supportedCommands()] },
  ],
  [OP.readLocalFeatures, { length: 0, reply: 'complete', run: () => [0, ...LMP_FEATURES] }],
  [
    OP.readBufferSize,
    {
      length: 0,
      reply: 'complete',
      // One buffer pool: BR/EDR numbers equal the LE ones (this controller has no BR/EDR).
      run: (c) => [STATUS.success, ...u16(c.aclBufferLength), 0, ...u16(c.aclBufferCount), 0, 0],
    },
  ],
  [
    OP.readBdAddr,
    {
      length: 0,
      reply: 'complete',
      run: (controller) => [STATUS.success, ...controller.publicAddress.bytes],
    },
  ],
  [
    OP.readRssi,
    {
      length: 2,
      reply: 'complete',
      run: (controller, params) => {
        const handle = params.getUint16(0, true);
        const rssi = controller.radio!.readRssi(controller, handle);
        if (rssi === undefined) return [STATUS.unknownConnection, ...u16(handle), 0];
        return [STATUS.success, ...u16(handle), rssi & 0xff];
      },
    },
  ],
]);

const COMMANDS = new Map<number, CommandSpec>([...CONTROLLER_COMMANDS, ...LE_COMMANDS]);

/** Opcodes the controller models, with the parameter length each must have. */
export function modelledCommands(): Map<number, number> {
  return new Map([...COMMANDS].map(([opcode, spec]) => [opcode, spec.length]));
}

/**
 * Runs one HCI command and answers it as the spec says: Command Complete or Command Status,
 * "Invalid HCI Command Parameters" for a wrong parameter length, and "Unknown HCI Command"
 * (in a Command Status, as Zephyr's and most UART controllers do) for anything not modelled.
 */
export function runCommand(controller: HciController, opcode: number, params: Uint8Array): void {
  const spec = COMMANDS.get(opcode);
  if (!spec) {
    controller.stats.unknownCommands++;
    controller.commandStatus(opcode, STATUS.unknownCommand);
    return;
  }
  if (params.length !== spec.length) {
    if (spec.reply === 'status') controller.commandStatus(opcode, STATUS.invalidParameters);
    else controller.commandComplete(opcode, [STATUS.invalidParameters]);
    return;
  }
  const view = new DataView(params.buffer, params.byteOffset, params.byteLength);
  const result = spec.run(controller, view);
  if (spec.reply === 'status') controller.commandStatus(opcode, result[0] ?? STATUS.success);
  else controller.commandComplete(opcode, result);
  controller.runAfterReply();
}
