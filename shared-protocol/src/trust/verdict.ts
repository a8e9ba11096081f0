/** What every verifier returns: accept with the checked value, or a typed reason and words. */
export type Verdict<T, Reason extends string> =
  { ok: true; value: T } | { ok: false; reason: Reason; message: string };

export const accept = <T>(value: T): { ok: true; value: T } => ({ ok: true, value });

export const refuse = <Reason extends string>(
  reason: Reason,
  message: string,
): { ok: false; reason: Reason; message: string } => ({ ok: false, reason, message });

/** Finds the public key for a key id, or undefined when the id is unknown. */
export type KeyLookup = (keyId: Uint8Array) => Uint8Array | undefined;

export const isoTime = (ms: number | bigint): string => {
  const value = Number(ms);
  return Number.isFinite(value) && Math.abs(value) < 8.64e15
    ? new Date(value).toISOString()
    : `${String(ms)} ms`;
};
