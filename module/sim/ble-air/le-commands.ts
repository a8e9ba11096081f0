import { addressFromBytes } from './address.js';
import type { CommandSpec } from './command-spec.js';
import { bytesOf, eventMask, ok, u16, validRange } from './command-spec.js';
import {
  LE_SUBEVENT,
  LL_MAX_OCTETS,
  LL_MAX_TIME_US,
  LL_MIN_OCTETS,
  LL_MIN_TIME_US,
  OP,
  STATUS,
} from './hci.js';

// LE features: only Data Packet Length Extension (bit 5). Not Extended Advertising (bit 12):
// noble switches to extended scanning commands when it sees that bit.
const LE_FEATURES = [0x20, 0, 0, 0, 0, 0, 0, 0];

/** LE Controller commands (OGF 0x08) the virtual controller models. */
export const LE_COMMANDS = new Map<number, CommandSpec>([
  [
    OP.leSetEventMask,
    {
      length: 8,
      reply: 'complete',
      run: (controller, params) => {
        controller.leEventMask = eventMask(params);
        return ok;
      },
    },
  ],
  [
    OP.leReadBufferSize,
    {
      length: 0,
      reply: 'complete',
      run: (c) => [STATUS.success, ...u16(c.aclBufferLength), c.aclBufferCount],
    },
  ],
  [OP.leReadLocalFeatures, { length: 0, reply: 'complete', run: () => [0, ...LE_FEATURES] }],
  [
    OP.leSetRandomAddress,
    {
      length: 6,
      reply: 'complete',
      run: (controller, params) => {
        if (controller.advertising.enabled || controller.scanning.enabled) {
          return [STATUS.commandDisallowed];
        }
        controller.randomAddress = addressFromBytes(bytesOf(params), 1);
        return ok;
      },
    },
  ],
  [
    OP.leSetAdvertisingParameters,
    {
      length: 15,
      reply: 'complete',
      run: (controller, params) => {
        if (controller.advertising.enabled) return [STATUS.commandDisallowed];
        const intervalMin = params.getUint16(0, true);
        const intervalMax = params.getUint16(2, true);
        const type = params.getUint8(4);
        const ownAddressType = params.getUint8(5);
        const directType = params.getUint8(6);
        const channelMap = params.getUint8(13);
        const directed = type === 0x01 || type === 0x04;
        const intervalsValid =
          type === 0x01 ||
          (intervalMin >= 0x20 && intervalMax <= 0x4000 && intervalMin <= intervalMax);
        if (!intervalsValid || type > 0x04 || ownAddressType > 0x03 || directType > 0x01) {
          return [STATUS.invalidParameters];
        }
        if ((channelMap & 0x07) === 0 || params.getUint8(14) > 0x03) {
          return [STATUS.invalidParameters];
        }
        const direct = bytesOf(params).subarray(7, 13);
        Object.assign(controller.advertising, {
          intervalMin: type === 0x01 ? 0x06 : intervalMin, // high duty cycle: every 3.75 ms
          type,
          ownAddressType,
          directAddress: directed ? addressFromBytes(direct, directType) : undefined,
        });
        return ok;
      },
    },
  ],
  [OP.leReadAdvertisingTxPower, { length: 0, reply: 'complete', run: () => [0, 0] }],
  [OP.leSetAdvertisingData, advertisingDataCommand('data')],
  [OP.leSetScanResponseData, advertisingDataCommand('scanResponse')],
  [
    OP.leSetAdvertiseEnable,
    {
      length: 1,
      reply: 'complete',
      run: (controller, params) => {
        const enable = params.getUint8(0);
        if (enable > 1) return [STATUS.invalidParameters];
        const advertising = controller.advertising;
        if (enable && advertising.ownAddressType === 1 && !controller.randomAddress) {
          return [STATUS.invalidParameters];
        }
        // Enabling again while enabled is allowed (since 5.0) and changes nothing.
        if (advertising.enabled !== (enable === 1)) {
          advertising.enabled = enable === 1;
          controller.radio!.advertisingChanged(controller);
        }
        return ok;
      },
    },
  ],
  [
    OP.leSetScanParameters,
    {
      length: 7,
      reply: 'complete',
      run: (controller, params) => {
        if (controller.scanning.enabled) return [STATUS.commandDisallowed];
        const type = params.getUint8(0);
        const interval = params.getUint16(1, true);
        const window = params.getUint16(3, true);
        const ownAddressType = params.getUint8(5);
        const filterPolicy = params.getUint8(6);
        if (type > 1 || interval < 0x0004 || interval > 0x4000) return [STATUS.invalidParameters];
        if (window < 0x0004 || window > interval || ownAddressType > 3 || filterPolicy > 3) {
          return [STATUS.invalidParameters];
        }
        // The filter accept list is not modelled: only "accept all" can be honoured.
        if (filterPolicy !== 0) return [STATUS.unsupportedParameter];
        Object.assign(controller.scanning, {
          active: type === 1,
          interval,
          window,
          ownAddressType,
        });
        return ok;
      },
    },
  ],
  [
    OP.leSetScanEnable,
    {
      length: 2,
      reply: 'complete',
      run: (controller, params) => {
        const enable = params.getUint8(0);
        const filterDuplicates = params.getUint8(1);
        if (enable > 1 || filterDuplicates > 1) return [STATUS.invalidParameters];
        const scanning = controller.scanning;
        scanning.filterDuplicates = filterDuplicates === 1;
        if (enable === 1 && !scanning.enabled) {
          // A new scan session: duplicate filtering starts afresh.
          scanning.reported = new Set();
          scanning.startedAt = controller.now();
        }
        if (scanning.enabled !== (enable === 1)) {
          scanning.enabled = enable === 1;
          controller.radio!.scanningChanged(controller);
        }
        return ok;
      },
    },
  ],
  [
    OP.leCreateConnection,
    {
      length: 25,
      reply: 'status',
      run: (controller, params) => {
        const ownAddressType = params.getUint8(12);
        const request = {
          scanInterval: params.getUint16(0, true),
          scanWindow: params.getUint16(2, true),
          peer: addressFromBytes(bytesOf(params).subarray(6, 12), params.getUint8(5)),
          ownAddressType,
          intervalMin: params.getUint16(13, true),
          intervalMax: params.getUint16(15, true),
          latency: params.getUint16(17, true),
          timeout: params.getUint16(19, true),
        };
        const filterPolicy = params.getUint8(4);
        if (filterPolicy !== 0) return [STATUS.unsupportedParameter];
        if (request.scanInterval < 4 || request.scanWindow < 4) return [STATUS.invalidParameters];
        if (request.scanWindow > request.scanInterval || request.peer.type > 1) {
          return [STATUS.invalidParameters];
        }
        if (ownAddressType > 3 || !validRange(request)) return [STATUS.invalidParameters];
        return [controller.radio!.createConnection(controller, request)];
      },
    },
  ],
  [
    OP.leCreateConnectionCancel,
    {
      length: 0,
      reply: 'complete',
      run: (controller) => {
        if (!controller.radio!.cancelConnection(controller)) return [STATUS.commandDisallowed];
        // The LE Connection Complete (Unknown Connection Identifier) follows the Command
        // Complete, as the spec orders them.
        controller.afterReply(() =>
          controller.emitLeEvent(LE_SUBEVENT.connectionComplete, [
            STATUS.unknownConnection,
            ...new Array<number>(17).fill(0),
          ]),
        );
        return ok;
      },
    },
  ],
  [
    OP.leConnectionUpdate,
    {
      length: 14,
      reply: 'status',
      run: (controller, params) => {
        const request = {
          intervalMin: params.getUint16(2, true),
          intervalMax: params.getUint16(4, true),
          latency: params.getUint16(6, true),
          timeout: params.getUint16(8, true),
        };
        if (!validRange(request)) return [STATUS.invalidParameters];
        const handle = params.getUint16(0, true);
        return [controller.radio!.updateConnection(controller, handle, request)];
      },
    },
  ],
  [
    OP.leSetDataLength,
    {
      length: 6,
      reply: 'complete',
      run: (controller, params) => {
        const handle = params.getUint16(0, true);
        const octets = params.getUint16(2, true);
        const timeUs = params.getUint16(4, true);
        if (octets < LL_MIN_OCTETS || octets > LL_MAX_OCTETS) {
          return [STATUS.invalidParameters, ...u16(handle)];
        }
        if (timeUs < LL_MIN_TIME_US || timeUs > 0x4290) {
          return [STATUS.invalidParameters, ...u16(handle)];
        }
        return [
          controller.radio!.setDataLength(controller, handle, octets, timeUs),
          ...u16(handle),
        ];
      },
    },
  ],
  [
    OP.leReadSuggestedDataLength,
    {
      length: 0,
      reply: 'complete',
      run: ({ suggestedDataLength: { octets, timeUs } }) => [0, ...u16(octets), ...u16(timeUs)],
    },
  ],
  [
    OP.leWriteSuggestedDataLength,
    {
      length: 4,
      reply: 'complete',
      run: (controller, params) => {
        const octets = params.getUint16(0, true);
        const timeUs = params.getUint16(2, true);
        if (octets < LL_MIN_OCTETS || octets > LL_MAX_OCTETS) return [STATUS.invalidParameters];
        if (timeUs < LL_MIN_TIME_US || timeUs > 0x4290) return [STATUS.invalidParameters];
        controller.suggestedDataLength = { octets, timeUs };
        return ok;
      },
    },
  ],
  [
    OP.leReadMaximumDataLength,
    {
      length: 0,
      reply: 'complete',
      run: () => {
        const max = [...u16(LL_MAX_OCTETS), ...u16(LL_MAX_TIME_US)];
        return [STATUS.success, ...max, ...max]; // transmit and receive
      },
    },
  ],
]);

function advertisingDataCommand(field: 'data' | 'scanResponse'): CommandSpec {
  return {
    length: 32,
    reply: 'complete',
    run: (controller, params) => {
      const length = params.getUint8(0);
      if (length > 31) return [STATUS.invalidParameters];
      controller.advertising[field] = bytesOf(params).slice(1, 1 + length);
      return ok;
    },
  };
}
