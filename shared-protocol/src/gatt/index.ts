// The key link (phone or workshop tester <-> module over BLE): GATT UUIDs, message framing and
// messages, and the rotating advertisement with its recognition material. See PROTOCOL.md
// "The key link (BLE)". No I/O: the BLE stacks (noble, bleno) live in the parts that use this.
export * from './uuids.js';
export * from './framing.js';
export * from './messages.js';
export * from './advertisement.js';
export * from './recognition.js';
export { buildGattVectors, type GattVectors } from './vectors.js';
