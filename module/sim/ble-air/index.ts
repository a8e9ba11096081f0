// The virtual BLE air: virtual HCI LE controllers on pseudo-terminals that the real noble and
// bleno open as UART controllers. Needs socat and Linux.
export type {
  ConnectionInfo,
  HciPacketRecord,
  HciUartBindings,
  VirtualAirEvents,
  VirtualAirOptions,
} from './virtual-air.js';
export { VirtualAir } from './virtual-air.js';
export type { ControllerStats as HciControllerStats } from './controller.js';
export type { HostPortStats as HciPortStats } from './host-port.js';
export type { Position as AirPosition } from './propagation.js';
export { rssiAtDistance, SENSITIVITY_DBM } from './propagation.js';
export type { BtsnoopRecord, TraceDirection } from './btsnoop.js';
export { parseBtsnoop } from './btsnoop.js';
export type { ControllerPacket as HciControllerPacket, HostPacket as HciHostPacket } from './h4.js';
export { encodeAcl, encodeCommand, encodeEvent, H4Decoder } from './h4.js';
// Demo hosts (a bleno peripheral serving one characteristic, a noble central using it), in
// this process or in their own (HostProcess), for tests and demos.
export type { DemoPeripheralEvents, DemoPeripheralOptions } from './hosts/demo-peripheral.js';
export {
  DEMO_CHARACTERISTIC_UUID,
  DEMO_SERVICE_UUID,
  demoReply,
  serveDemo,
} from './hosts/demo-peripheral.js';
export { demoCharacteristic, findByName, writeAndAwaitNotification } from './hosts/demo-central.js';
export type { HostEvent as BleHostEvent } from './hosts/host-process.js';
export { HostProcess as BleHostProcess } from './hosts/host-process.js';
