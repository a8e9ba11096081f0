// Numbers from the Bluetooth Core Specification (5.x), Vol 4 Part E (HCI) and Vol 6 Part B
// (Link Layer), for the subset of an LE controller that the air models.

/** H4 (UART transport) packet indicators, Vol 4 Part A. */
export const H4 = { command: 0x01, acl: 0x02, sco: 0x03, event: 0x04, iso: 0x05 } as const;

export const opcode = (ogf: number, ocf: number): number => ((ogf << 10) | ocf) & 0xffff;

export const OP = {
  disconnect: opcode(0x01, 0x0006),
  setEventMask: opcode(0x03, 0x0001),
  reset: opcode(0x03, 0x0003),
  setEventFilter: opcode(0x03, 0x0005),
  readLeHostSupported: opcode(0x03, 0x006c),
  writeLeHostSupported: opcode(0x03, 0x006d),
  readLocalVersion: opcode(0x04, 0x0001),
  readLocalCommands: opcode(0x04, 0x0002),
  readLocalFeatures: opcode(0x04, 0x0003),
  readBufferSize: opcode(0x04, 0x0005),
  readBdAddr: opcode(0x04, 0x0009),
  readRssi: opcode(0x05, 0x0005),
  leSetEventMask: opcode(0x08, 0x0001),
  leReadBufferSize: opcode(0x08, 0x0002),
  leReadLocalFeatures: opcode(0x08, 0x0003),
  leSetRandomAddress: opcode(0x08, 0x0005),
  leSetAdvertisingParameters: opcode(0x08, 0x0006),
  leReadAdvertisingTxPower: opcode(0x08, 0x0007),
  leSetAdvertisingData: opcode(0x08, 0x0008),
  leSetScanResponseData: opcode(0x08, 0x0009),
  leSetAdvertiseEnable: opcode(0x08, 0x000a),
  leSetScanParameters: opcode(0x08, 0x000b),
  leSetScanEnable: opcode(0x08, 0x000c),
  leCreateConnection: opcode(0x08, 0x000d),
  leCreateConnectionCancel: opcode(0x08, 0x000e),
  leReadFilterAcceptListSize: opcode(0x08, 0x000f),
  leConnectionUpdate: opcode(0x08, 0x0013),
  leStartEncryption: opcode(0x08, 0x0019),
  leSetDataLength: opcode(0x08, 0x0022),
  leReadSuggestedDataLength: opcode(0x08, 0x0023),
  leWriteSuggestedDataLength: opcode(0x08, 0x0024),
  leReadMaximumDataLength: opcode(0x08, 0x002f),
} as const;

export const EVENT = {
  disconnectionComplete: 0x05,
  commandComplete: 0x0e,
  commandStatus: 0x0f,
  numberOfCompletedPackets: 0x13,
  dataBufferOverflow: 0x1a,
  leMeta: 0x3e,
} as const;

export const LE_SUBEVENT = {
  connectionComplete: 0x01,
  advertisingReport: 0x02,
  connectionUpdateComplete: 0x03,
  dataLengthChange: 0x07,
} as const;

export const STATUS = {
  success: 0x00,
  unknownCommand: 0x01,
  unknownConnection: 0x02,
  connectionTimeout: 0x08,
  connectionLimitExceeded: 0x09,
  connectionAlreadyExists: 0x0b,
  commandDisallowed: 0x0c,
  unsupportedParameter: 0x11,
  invalidParameters: 0x12,
  remoteUserTerminated: 0x13,
  localHostTerminated: 0x16,
  unsupportedRemoteFeature: 0x1a,
  failedToEstablish: 0x3e,
} as const;

/** Reasons a host may give in HCI_Disconnect (Vol 4 Part E 7.1.6). */
export const DISCONNECT_REASONS: ReadonlySet<number> = new Set([
  0x05, 0x13, 0x14, 0x15, 0x1a, 0x29, 0x3b,
]);

/** ACL packet boundary flags (Vol 4 Part E 5.4.2). */
export const PB = { firstNonFlushable: 0b00, continuation: 0b01, firstFlushable: 0b10 } as const;

/** Advertising PDU types as Set Advertising Parameters names them, and report event types. */
export const ADV_TYPE = {
  ind: 0x00,
  directHigh: 0x01,
  scanInd: 0x02,
  nonconnInd: 0x03,
  directLow: 0x04,
};
export const REPORT_TYPE = {
  ind: 0x00,
  direct: 0x01,
  scanInd: 0x02,
  nonconnInd: 0x03,
  scanRsp: 0x04,
};

/** Event masks after power-on and Reset (Vol 4 Part E 7.3.1, 7.8.1): LE Meta is off. */
export const DEFAULT_EVENT_MASK = 0x00001fffffffffffn;
export const DEFAULT_LE_EVENT_MASK = 0x1fn;
/** Bit of the LE Meta event in the event mask; bit of Disconnection Complete. */
export const EVENT_MASK_BIT = { disconnectionComplete: 4n, leMeta: 61n } as const;

/** Largest LL payload without and with Data Length Extension (Vol 6 Part B 4.5.10). */
export const LL_MIN_OCTETS = 27;
export const LL_MAX_OCTETS = 251;
export const LL_MIN_TIME_US = 328;
export const LL_MAX_TIME_US = 2120;

/** Time on air of an LE 1M data PDU: preamble, access address, header, CRC; 8 µs per octet. */
export function pduAirtimeUs(payloadOctets: number): number {
  return (1 + 4 + 2 + payloadOctets + 3) * 8;
}
/** Inter frame space between packets of a connection event (Vol 6 Part B 4.1.1). */
export const T_IFS_US = 150;

/** Connection parameter units: intervals in 1.25 ms, supervision timeout in 10 ms. */
export const INTERVAL_UNIT_MS = 1.25;
export const TIMEOUT_UNIT_MS = 10;
