/**
 * The service-link messages: generated protobuf-es types (from proto/mini/service/v1) plus the
 * facts about each request that the session and the module need (idempotency, authorization).
 */
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import type { MessageInitShape } from '@bufbuild/protobuf';
import {
  EventSchema,
  RequestSchema,
  ResponseSchema,
  type Event,
  type Request,
  type Response,
} from './gen/mini/service/v1/link_pb.js';

export * from './gen/mini/service/v1/device_pb.js';
export * from './gen/mini/service/v1/diagnostics_pb.js';
export * from './gen/mini/service/v1/flash_pb.js';
export * from './gen/mini/service/v1/link_pb.js';
export * from './gen/mini/service/v1/provisioning_pb.js';
export { create, toBinary, fromBinary } from '@bufbuild/protobuf';

/** Version of the service-link protocol this code speaks. Majors must match to talk. */
export const PROTOCOL_VERSION = { major: 1, minor: 0 } as const;

/** Name of a request kind, e.g. `'hello'`, `'flashData'`. */
export type RequestKind = NonNullable<Request['body']['case']>;
/** The request message of a kind, e.g. `HelloRequest` for `'hello'`. */
export type RequestOf<K extends RequestKind> = Extract<Request['body'], { case: K }>['value'];
/** The response message of a kind, e.g. `HelloResponse` for `'hello'`. */
export type ResponseOf<K extends RequestKind> = Extract<Response['body'], { case: K }>['value'];
type RequestBodyInit = NonNullable<MessageInitShape<typeof RequestSchema>['body']>;
type ResponseBodyInit = NonNullable<MessageInitShape<typeof ResponseSchema>['body']>;
/** What a caller passes to build a request of a kind (all fields optional, as protobuf-es init). */
export type RequestInitOf<K extends RequestKind> = Extract<RequestBodyInit, { case: K }>['value'];
/** What a module handler returns to answer a request of a kind. */
export type ResponseInitOf<K extends RequestKind> = Extract<ResponseBodyInit, { case: K }>['value'];
export type EventInit = MessageInitShape<typeof EventSchema>;

interface RequestKindFacts {
  /** Safe to send again when no response came: repeating it has the same effect as once. */
  idempotent: boolean;
  /** Changes module state or moves the car: needs a service authorization once provisioned. */
  changesState: boolean;
}

/**
 * One row per request kind. `satisfies Record<RequestKind, …>` makes the compiler demand a row
 * for every request added to link.proto, so no request can be added without deciding these.
 */
export const REQUEST_KINDS = {
  hello: { idempotent: true, changesState: false },
  baudChange: { idempotent: false, changesState: false },
  deviceInfo: { idempotent: true, changesState: false },
  vehicleInfo: { idempotent: true, changesState: false },
  flashBegin: { idempotent: false, changesState: true },
  flashData: { idempotent: true, changesState: true },
  flashStatus: { idempotent: true, changesState: false },
  flashEnd: { idempotent: true, changesState: true },
  flashActivate: { idempotent: false, changesState: true },
  flashConfirm: { idempotent: true, changesState: true },
  provisionBegin: { idempotent: false, changesState: true },
  provisionCommit: { idempotent: false, changesState: true },
  moduleChallenge: { idempotent: true, changesState: false },
  selfTestRun: { idempotent: false, changesState: true },
  faultCodesRead: { idempotent: true, changesState: false },
  faultCodesClear: { idempotent: false, changesState: true },
  logRead: { idempotent: true, changesState: false },
  factoryReset: { idempotent: false, changesState: true },
} as const satisfies Record<RequestKind, RequestKindFacts>;

export function isIdempotent(kind: RequestKind): boolean {
  return REQUEST_KINDS[kind].idempotent;
}

export function changesState(kind: RequestKind): boolean {
  return REQUEST_KINDS[kind].changesState;
}

export function buildRequest<K extends RequestKind>(
  kind: K,
  value: RequestInitOf<K>,
  serviceAuthorization?: Uint8Array,
): Request {
  return create(RequestSchema, {
    body: { case: kind, value } as RequestBodyInit,
    ...(serviceAuthorization ? { serviceAuthorization } : {}),
  });
}

export function buildResponse<K extends RequestKind>(kind: K, value: ResponseInitOf<K>): Response {
  return create(ResponseSchema, { body: { case: kind, value } as ResponseBodyInit });
}

export const encodeRequest = (message: Request): Uint8Array => toBinary(RequestSchema, message);
export const encodeResponse = (message: Response): Uint8Array => toBinary(ResponseSchema, message);
export const encodeEvent = (message: Event): Uint8Array => toBinary(EventSchema, message);

/** Result of decoding bytes from the wire: never throws, so a hostile peer cannot crash us. */
export type Decoded<T> = { ok: true; message: T } | { ok: false; reason: string };

function safeDecode<T>(decode: () => T): Decoded<T> {
  try {
    return { ok: true, message: decode() };
  } catch (error) {
    return { ok: false, reason: error instanceof Error ? error.message : String(error) };
  }
}

export const decodeRequest = (bytes: Uint8Array): Decoded<Request> =>
  safeDecode(() => fromBinary(RequestSchema, bytes));
export const decodeResponse = (bytes: Uint8Array): Decoded<Response> =>
  safeDecode(() => fromBinary(ResponseSchema, bytes));
export const decodeEvent = (bytes: Uint8Array): Decoded<Event> =>
  safeDecode(() => fromBinary(EventSchema, bytes));
