/**
 * Digital keys (signed by a cloud signing key) and the commands a phone signs under them, with
 * the one verifier the module uses before it moves anything. The verifier is strict about the
 * key's validity window; what an ongoing drive may still do after notAfter is the module's
 * policy, not this file's.
 */
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { bytesEqual, toHex } from '../crypto/bytes.js';
import { type Signer, verifyEd25519 } from '../crypto/ed25519.js';
import {
  CommandKind,
  CommandSchema,
  DigitalKeySchema,
  HolderRole,
  Permission,
  type Command,
  type DigitalKey,
} from '../messages/gen/mini/trust/v1/formats_pb.js';
import type { MessageInitShape } from '@bufbuild/protobuf';
import type { CloudKeyRing } from './key-ring.js';
import {
  decodeBody,
  decodeSigned,
  encodeSigned,
  signObject,
  signingInput,
  verifySignedBy,
} from './signed.js';
import { accept, isoTime, refuse, type Verdict } from './verdict.js';

export { CommandKind, HolderRole, Permission, type Command, type DigitalKey };

export const TOKEN_ID_LENGTH = 16;
/** Grace the cloud adds to a driver's booking end for notAfter (DESIGN.md). */
export const DRIVER_KEY_GRACE_MS = 30 * 60 * 1000;
/** Longest validity of a workshop test key. */
export const WORKSHOP_TEST_KEY_MAX_MS = 15 * 60 * 1000;

/** The permission each command needs. */
export const PERMISSION_FOR_COMMAND: Record<CommandKind, Permission | undefined> = {
  [CommandKind.UNSPECIFIED]: undefined,
  [CommandKind.UNLOCK]: Permission.UNLOCK,
  [CommandKind.LOCK]: Permission.LOCK,
  [CommandKind.ENABLE_DRIVE]: Permission.DRIVE,
  [CommandKind.END]: Permission.LOCK,
  [CommandKind.LOCATE]: Permission.LOCATE,
};

export type DigitalKeyFields = Omit<MessageInitShape<typeof DigitalKeySchema>, '$typeName'>;

/**
 * Issue a key. Refuses (throws RangeError: a bug in the issuer) keys that break the format's own
 * rules: a workshop test key with "drive" or longer than 15 minutes, a window that ends before it
 * starts, a token id that is not 16 bytes.
 */
export async function issueDigitalKey(
  signer: Signer,
  fields: DigitalKeyFields,
): Promise<Uint8Array> {
  const key = create(DigitalKeySchema, fields);
  if (key.tokenId.length !== TOKEN_ID_LENGTH) throw new RangeError('token id must be 16 bytes');
  if (key.notAfterMs <= key.notBeforeMs) throw new RangeError('notAfter must follow notBefore');
  if (key.role === HolderRole.WORKSHOP_TEST) {
    if (key.permissions.includes(Permission.DRIVE)) {
      throw new RangeError('a workshop test key never carries "drive"');
    }
    if (key.notAfterMs - key.notBeforeMs > BigInt(WORKSHOP_TEST_KEY_MAX_MS)) {
      throw new RangeError('a workshop test key is valid for 15 minutes at most');
    }
  }
  const body = toBinary(DigitalKeySchema, key);
  return encodeSigned(await signObject('digital-key', body, signer));
}

/**
 * Decode a token WITHOUT checking it: for logs and usage reports (KeyUsed names the token even
 * when it was refused). Never base a decision on it. Undefined when it does not decode.
 */
export function decodeDigitalKeyUnverified(tokenBytes: Uint8Array): DigitalKey | undefined {
  const signed = decodeSigned(tokenBytes);
  return signed && decodeBody(() => fromBinary(DigitalKeySchema, signed.body));
}

export type CommandFields = Omit<MessageInitShape<typeof CommandSchema>, '$typeName'>;

/** A phone (or station) signs a command with its device key. */
export async function signCommand(
  deviceSigner: Signer,
  fields: CommandFields,
): Promise<Uint8Array> {
  const body = toBinary(CommandSchema, create(CommandSchema, fields));
  return encodeSigned(await signObject('command', body, deviceSigner));
}

export type CommandReason =
  | 'malformed-token'
  | 'unknown-signer'
  | 'bad-token-signature'
  | 'wrong-module'
  | 'clock-below-trusted-time'
  | 'not-yet-valid'
  | 'expired'
  | 'stale-owner-generation'
  | 'revoked'
  | 'malformed-command'
  | 'bad-command-signature'
  | 'challenge-mismatch'
  | 'command-expired'
  | 'missing-permission'
  | 'replayed-counter';

/** The check order, as stated in PROTOCOL.md; the vectors and tests follow it. */
export const COMMAND_CHECK_ORDER: readonly CommandReason[] = [
  'malformed-token',
  'unknown-signer',
  'bad-token-signature',
  'wrong-module',
  'clock-below-trusted-time',
  'not-yet-valid',
  'expired',
  'stale-owner-generation',
  'revoked',
  'malformed-command',
  'bad-command-signature',
  'challenge-mismatch',
  'command-expired',
  'missing-permission',
  'replayed-counter',
];

/** What the module knows when it checks a presented digital key on its own (before a command). */
export interface DigitalKeyContext {
  moduleSerial: string;
  keyRing: CloudKeyRing;
  /** Module clock, ms since the epoch. */
  nowMs: number;
  /** Highest time the module knows has passed (key issue times, signed time sync). */
  trustedTimeFloorMs: number;
  /** The car's current owner generation. */
  ownerGeneration: number;
  isRevoked(tokenId: Uint8Array): boolean;
  /**
   * The module's policy hook for a key past its notAfter (PROTOCOL.md: "what an ongoing drive may
   * still do after not-after is the module's policy"): true lets this key through the `expired`
   * check, e.g. while the car is being driven under it. Absent: strict.
   */
  allowPastNotAfter?(key: DigitalKey): boolean;
}

/** The key checks of `verifyCommand`, in its order, on their own. */
export type DigitalKeyReason = Extract<
  CommandReason,
  | 'malformed-token'
  | 'unknown-signer'
  | 'bad-token-signature'
  | 'wrong-module'
  | 'clock-below-trusted-time'
  | 'not-yet-valid'
  | 'expired'
  | 'stale-owner-generation'
  | 'revoked'
>;

export interface CommandContext extends DigitalKeyContext {
  /** The challenge the module issued on this connection, and until when it is accepted. */
  challenge: { nonce: Uint8Array; expiresAtMs: number };
  /** Highest counter accepted so far under this token, if any. */
  lastCounter(tokenId: Uint8Array): bigint | undefined;
}

export interface VerifiedCommand {
  key: DigitalKey;
  command: Command;
}

/** Verify a presented key and a command under it. Never throws. */
export async function verifyCommand(
  tokenBytes: Uint8Array,
  commandBytes: Uint8Array,
  context: CommandContext,
): Promise<Verdict<VerifiedCommand, CommandReason>> {
  try {
    return await verifyCommandUnsafe(tokenBytes, commandBytes, context);
  } catch (error) {
    // Only a broken context callback can land here; hostile bytes are handled above.
    return refuse('malformed-command', `Command check failed: ${String(error)}`);
  }
}

/**
 * Verify a presented digital key alone: the first checks of `verifyCommand`, in the same order.
 * What a module answers a `present_token` with. Never throws.
 */
export async function verifyDigitalKey(
  tokenBytes: Uint8Array,
  context: DigitalKeyContext,
): Promise<Verdict<DigitalKey, DigitalKeyReason>> {
  try {
    return await verifyDigitalKeyUnsafe(tokenBytes, context);
  } catch (error) {
    // Only a broken context callback can land here; hostile bytes are handled below.
    return refuse('malformed-token', `Key check failed: ${String(error)}`);
  }
}

async function verifyDigitalKeyUnsafe(
  tokenBytes: Uint8Array,
  context: DigitalKeyContext,
): Promise<Verdict<DigitalKey, DigitalKeyReason>> {
  const signedKey = decodeSigned(tokenBytes);
  const key = signedKey && decodeBody(() => fromBinary(DigitalKeySchema, signedKey.body));
  if (
    !signedKey ||
    !key ||
    key.tokenId.length !== TOKEN_ID_LENGTH ||
    key.devicePublicKey.length !== 32
  ) {
    return refuse('malformed-token', 'The digital key does not decode');
  }
  const signer = context.keyRing.check(signedKey.signerKeyId, Number(key.issuedAtMs));
  if (!signer.ok) return refuse('unknown-signer', signer.message);
  const tokenInput = signingInput('digital-key', signedKey.body);
  if (!(await verifyEd25519(signer.key.publicKey, tokenInput, signedKey.signature))) {
    return refuse('bad-token-signature', 'The digital key signature is not valid');
  }
  if (key.moduleSerial !== context.moduleSerial) {
    return refuse(
      'wrong-module',
      `This key is for module ${key.moduleSerial}, not ${context.moduleSerial}`,
    );
  }
  if (context.nowMs < context.trustedTimeFloorMs) {
    return refuse(
      'clock-below-trusted-time',
      `The module clock (${isoTime(context.nowMs)}) is behind time it has already seen (${isoTime(context.trustedTimeFloorMs)})`,
    );
  }
  if (BigInt(context.nowMs) < key.notBeforeMs) {
    return refuse('not-yet-valid', `This key is valid from ${isoTime(key.notBeforeMs)}`);
  }
  if (BigInt(context.nowMs) > key.notAfterMs && !context.allowPastNotAfter?.(key)) {
    return refuse('expired', `This key expired at ${isoTime(key.notAfterMs)}`);
  }
  if (key.ownerGeneration < context.ownerGeneration) {
    return refuse(
      'stale-owner-generation',
      'This key was issued before the car changed owner; it no longer opens the car',
    );
  }
  if (context.isRevoked(key.tokenId)) {
    return refuse('revoked', `Key ${toHex(key.tokenId)} has been revoked`);
  }
  return accept(key);
}

async function verifyCommandUnsafe(
  tokenBytes: Uint8Array,
  commandBytes: Uint8Array,
  context: CommandContext,
): Promise<Verdict<VerifiedCommand, CommandReason>> {
  const checked = await verifyDigitalKeyUnsafe(tokenBytes, context);
  if (!checked.ok) return checked;
  const key = checked.value;
  const signedCommand = decodeSigned(commandBytes);
  const command = signedCommand && decodeBody(() => fromBinary(CommandSchema, signedCommand.body));
  if (
    !signedCommand ||
    !command ||
    command.kind === CommandKind.UNSPECIFIED ||
    !bytesEqual(command.tokenId, key.tokenId) ||
    command.moduleSerial !== context.moduleSerial
  ) {
    return refuse('malformed-command', 'The command does not decode or is not made under this key');
  }
  if (!(await verifySignedBy('command', signedCommand, key.devicePublicKey))) {
    return refuse('bad-command-signature', "The command is not signed by this key's device");
  }
  if (
    !bytesEqual(command.challenge, context.challenge.nonce) ||
    context.nowMs > context.challenge.expiresAtMs
  ) {
    return refuse(
      'challenge-mismatch',
      'The command does not answer the current challenge; ask for a new one',
    );
  }
  if (BigInt(context.nowMs) > command.expiresAtMs) {
    return refuse('command-expired', `The command expired at ${isoTime(command.expiresAtMs)}`);
  }
  const needed = PERMISSION_FOR_COMMAND[command.kind];
  if (needed === undefined || !key.permissions.includes(needed)) {
    return refuse('missing-permission', `This key does not allow ${CommandKind[command.kind]}`);
  }
  const last = context.lastCounter(key.tokenId);
  if (last !== undefined && command.counter <= last) {
    return refuse(
      'replayed-counter',
      `Counter ${command.counter} is not above ${last}: a replayed command`,
    );
  }
  return accept({ key, command });
}
