// The virtual serial line: two pty paths joined by a relay that models the wire and injects
// faults. Needs socat and Linux.
export type {
  BaudRates,
  LineDirection,
  LineEnd,
  SerialLineEvents,
  SerialLineFaults,
  SerialLineOptions,
  SerialLineStats,
} from './virtual-serial-line.js';
export { VirtualSerialLine } from './virtual-serial-line.js';
export type { DirectionStats } from './wire.js';
export { DELIVERY_WINDOW_BYTES, SOCAT_MISSING_MESSAGE } from './pty-end.js';
export type { PortClosed } from './serial-port-probe.js';
export { SerialPortProbe } from './serial-port-probe.js';
export { resampleUart } from './uart-sampling.js';
