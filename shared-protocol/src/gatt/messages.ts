/**
 * Key link messages (proto mini.key.v1): builders, a decoder that never throws and checks the
 * shape of what a peer sent, and the mapping from verifier reasons to wire result codes.
 */
import type { CommandReason } from '../trust/digital-key.js';
import type { RevocationListReason } from '../trust/revocation.js';
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import type { MessageInitShape } from '@bufbuild/protobuf';
import {
  KeyLinkMessageSchema,
  ResultCode,
  type KeyLinkMessage,
} from '../messages/gen/mini/key/v1/key_link_pb.js';
import { KEY_LINK_MAX_MESSAGE_SIZE } from './framing.js';

export {
  AdvertisementRecognitionSchema,
  CarStateSchema,
  ChallengeRequestSchema,
  ChallengeSchema,
  CommandSchema,
  KeyLinkMessageSchema,
  PresentTokenSchema,
  ResultCode,
  ResultSchema,
  RevocationListRelaySchema,
  StatusRequestSchema,
  StatusSchema,
  type AdvertisementRecognition,
  type CarState,
  type Challenge,
  type ChallengeRequest,
  type Command,
  type KeyLinkMessage,
  type PresentToken,
  type Result,
  type RevocationListRelay,
  type Status,
  type StatusRequest,
} from '../messages/gen/mini/key/v1/key_link_pb.js';

/** Length of a challenge nonce. */
export const CHALLENGE_NONCE_LENGTH = 16;
/**
 * How long a module accepts a command answering its challenge, unless it says otherwise: a few
 * seconds, enough for a phone next to the car and too short for a relayed conversation.
 */
export const DEFAULT_CHALLENGE_VALID_FOR_MS = 3_000;

/** Name of a key link message kind, e.g. `'presentToken'`, `'result'`. */
export type KeyLinkKind = NonNullable<KeyLinkMessage['body']['case']>;
type BodyInit = NonNullable<MessageInitShape<typeof KeyLinkMessageSchema>['body']>;
/** What a caller passes to build a message of a kind (protobuf-es init shape). */
export type KeyLinkInitOf<K extends KeyLinkKind> = Extract<BodyInit, { case: K }>['value'];
/** The message of a kind, e.g. `Challenge` for `'challenge'`. */
export type KeyLinkBodyOf<K extends KeyLinkKind> = Extract<
  KeyLinkMessage['body'],
  { case: K }
>['value'];

/** Who sends each kind: a module refuses central kinds it did not expect and vice versa. */
export const KEY_LINK_KINDS = {
  presentToken: { from: 'central' },
  challengeRequest: { from: 'central' },
  command: { from: 'central' },
  revocationListRelay: { from: 'central' },
  statusRequest: { from: 'central' },
  challenge: { from: 'module' },
  result: { from: 'module' },
  status: { from: 'module' },
} as const satisfies Record<KeyLinkKind, { from: 'central' | 'module' }>;

export function buildKeyLinkMessage<K extends KeyLinkKind>(
  kind: K,
  value: KeyLinkInitOf<K>,
  requestId = 0,
): KeyLinkMessage {
  return create(KeyLinkMessageSchema, { requestId, body: { case: kind, value } as BodyInit });
}

export const encodeKeyLinkMessage = (message: KeyLinkMessage): Uint8Array =>
  toBinary(KeyLinkMessageSchema, message);

export type KeyLinkDecoded = { ok: true; message: KeyLinkMessage } | { ok: false; reason: string };

/**
 * Decodes a reassembled message from the peer and checks its shape: size, a known body, the
 * opaque fields present, a 16-byte nonce. Never throws; a refusal says why (for logs).
 */
export function decodeKeyLinkMessage(bytes: Uint8Array): KeyLinkDecoded {
  if (bytes.length > KEY_LINK_MAX_MESSAGE_SIZE) {
    return { ok: false, reason: `message of ${bytes.length} bytes is over the limit` };
  }
  let message: KeyLinkMessage;
  try {
    message = fromBinary(KeyLinkMessageSchema, bytes);
  } catch (error) {
    return { ok: false, reason: error instanceof Error ? error.message : String(error) };
  }
  const problem = shapeProblem(message);
  return problem ? { ok: false, reason: problem } : { ok: true, message };
}

function shapeProblem({ body }: KeyLinkMessage): string | undefined {
  switch (body.case) {
    case undefined:
      return 'no message body (unknown kind from a newer peer?)';
    case 'presentToken':
      return body.value.token.length === 0 ? 'empty token' : undefined;
    case 'command':
      return body.value.command.length === 0 ? 'empty command' : undefined;
    case 'revocationListRelay':
      return body.value.revocationList.length === 0 ? 'empty revocation list' : undefined;
    case 'challenge':
      return body.value.nonce.length !== CHALLENGE_NONCE_LENGTH
        ? `challenge nonce of ${body.value.nonce.length} bytes, not ${CHALLENGE_NONCE_LENGTH}`
        : undefined;
    case 'result':
      return body.value.code === ResultCode.UNSPECIFIED ? 'result without a code' : undefined;
    case 'challengeRequest':
    case 'statusRequest':
    case 'status':
      return undefined;
  }
}

/** Reasons of the digital key and command check (trust/digital-key.ts). */
export type KeyCommandReason = CommandReason;

/** Reasons of the revocation list check (trust/revocation.ts). */
export type RevocationRelayReason = RevocationListReason;

/** Reasons of the module's own rules and state, not of a signature check. */
export type KeyLinkPolicyReason =
  | 'malformed-message'
  | 'unsupported'
  | 'token-required'
  | 'busy'
  | 'internal'
  | 'access-ended'
  | 'car-being-driven'
  | 'doors-open'
  | 'vehicle-not-responding';

export const RESULT_CODE_FOR_COMMAND_REASON = {
  'malformed-token': ResultCode.MALFORMED_TOKEN,
  'unknown-signer': ResultCode.UNKNOWN_SIGNER,
  'bad-token-signature': ResultCode.BAD_TOKEN_SIGNATURE,
  'wrong-module': ResultCode.WRONG_MODULE,
  'clock-below-trusted-time': ResultCode.CLOCK_BELOW_TRUSTED_TIME,
  'not-yet-valid': ResultCode.NOT_YET_VALID,
  expired: ResultCode.EXPIRED,
  'stale-owner-generation': ResultCode.STALE_OWNER_GENERATION,
  revoked: ResultCode.REVOKED,
  'malformed-command': ResultCode.MALFORMED_COMMAND,
  'bad-command-signature': ResultCode.BAD_COMMAND_SIGNATURE,
  'challenge-mismatch': ResultCode.CHALLENGE_MISMATCH,
  'command-expired': ResultCode.COMMAND_EXPIRED,
  'missing-permission': ResultCode.MISSING_PERMISSION,
  'replayed-counter': ResultCode.REPLAYED_COUNTER,
} as const satisfies Record<KeyCommandReason, ResultCode>;

export const RESULT_CODE_FOR_REVOCATION_REASON = {
  malformed: ResultCode.MALFORMED_REVOCATION_LIST,
  'unknown-signer': ResultCode.UNKNOWN_SIGNER,
  'bad-signature': ResultCode.BAD_REVOCATION_LIST_SIGNATURE,
  'wrong-module': ResultCode.WRONG_MODULE,
  'not-newer': ResultCode.REVOCATION_LIST_NOT_NEWER,
} as const satisfies Record<RevocationRelayReason, ResultCode>;

export const RESULT_CODE_FOR_POLICY_REASON = {
  'malformed-message': ResultCode.MALFORMED,
  unsupported: ResultCode.UNSUPPORTED,
  'token-required': ResultCode.TOKEN_REQUIRED,
  busy: ResultCode.BUSY,
  internal: ResultCode.INTERNAL,
  'access-ended': ResultCode.ACCESS_ENDED,
  'car-being-driven': ResultCode.CAR_BEING_DRIVEN,
  'doors-open': ResultCode.DOORS_OPEN,
  'vehicle-not-responding': ResultCode.VEHICLE_NOT_RESPONDING,
} as const satisfies Record<KeyLinkPolicyReason, ResultCode>;

/** The module's answer to a request: a Result with the code, echoing the request id. */
export function buildResult(
  requestId: number,
  code: ResultCode,
  message = '',
  extra: Pick<KeyLinkInitOf<'result'>, 'carState' | 'nextChallenge'> = {},
): KeyLinkMessage {
  return buildKeyLinkMessage('result', { ...extra, code, message }, requestId);
}
