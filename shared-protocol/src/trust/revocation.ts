/**
 * Revocation lists: per module, by token id, with a sequence so an older list never replaces a
 * newer one. Relayed by the cloud or by any phone; only the signature makes them trusted.
 */
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { type Signer, verifyEd25519 } from '../crypto/ed25519.js';
import { bytesEqual } from '../crypto/bytes.js';
import {
  RevocationListSchema,
  type RevocationList,
} from '../messages/gen/mini/trust/v1/formats_pb.js';
import type { CloudKeyRing } from './key-ring.js';
import { decodeBody, decodeSigned, encodeSigned, signObject, signingInput } from './signed.js';
import { accept, refuse, type Verdict } from './verdict.js';

export type { RevocationList };

export interface RevocationEntry {
  tokenId: Uint8Array;
  notAfterMs: number;
}

/**
 * Issue a list. Entries whose key has expired by `issuedAtMs` are left out: an expired key opens
 * nothing anyway, and the list stays small.
 */
export async function issueRevocationList(
  signer: Signer,
  fields: {
    moduleSerial: string;
    sequence: number;
    issuedAtMs: number;
    revoked: RevocationEntry[];
  },
): Promise<Uint8Array> {
  const revoked = fields.revoked
    .filter((entry) => entry.notAfterMs >= fields.issuedAtMs)
    .map((entry) => ({ tokenId: entry.tokenId, notAfterMs: BigInt(entry.notAfterMs) }));
  const body = toBinary(
    RevocationListSchema,
    create(RevocationListSchema, {
      moduleSerial: fields.moduleSerial,
      sequence: BigInt(fields.sequence),
      issuedAtMs: BigInt(fields.issuedAtMs),
      revoked,
    }),
  );
  return encodeSigned(await signObject('revocation-list', body, signer));
}

export type RevocationListReason =
  'malformed' | 'unknown-signer' | 'bad-signature' | 'wrong-module' | 'not-newer';

/** Never throws. `currentSequence`: the sequence of the list the module holds (undefined: none). */
export async function verifyRevocationList(
  bytes: Uint8Array,
  context: { moduleSerial: string; keyRing: CloudKeyRing; currentSequence: bigint | undefined },
): Promise<Verdict<RevocationList, RevocationListReason>> {
  const signed = decodeSigned(bytes);
  const body = signed && decodeBody(() => fromBinary(RevocationListSchema, signed.body));
  if (!signed || !body) return refuse('malformed', 'The revocation list does not decode');
  const signer = context.keyRing.check(signed.signerKeyId, Number(body.issuedAtMs));
  if (!signer.ok) return refuse('unknown-signer', signer.message);
  const input = signingInput('revocation-list', signed.body);
  if (!(await verifyEd25519(signer.key.publicKey, input, signed.signature))) {
    return refuse('bad-signature', 'The revocation list signature is not valid');
  }
  if (body.moduleSerial !== context.moduleSerial) {
    return refuse('wrong-module', `The list is for module ${body.moduleSerial}`);
  }
  if (context.currentSequence !== undefined && body.sequence <= context.currentSequence) {
    return refuse(
      'not-newer',
      `List ${body.sequence} is not newer than the one held (${context.currentSequence}); kept the newer one`,
    );
  }
  return accept(body);
}

/** Whether a list revokes this token. */
export const isRevokedBy = (list: RevocationList, tokenId: Uint8Array): boolean =>
  list.revoked.some((entry) => bytesEqual(entry.tokenId, tokenId));

/** Entries still worth keeping at `nowMs` (a revoked key past its notAfter opens nothing). */
export const activeRevocations = (list: RevocationList, nowMs: number) =>
  list.revoked.filter((entry) => entry.notAfterMs >= BigInt(nowMs));
