/** Storage failures the boot loader and the flash service act on, with a stable code. */
export type StorageErrorCode =
  /** A record name outside [a-z0-9-]{1,64}. */
  | 'invalid-name'
  /** A record value over the size limit. */
  | 'record-too-large'
  /** A record file is torn or bit-rotted: its checksum, length or header is wrong. */
  | 'corrupt-record'
  /** A record is intact but its content is not what the caller's validator accepts. */
  | 'invalid-record'
  /** An append starts above the committed offset: bytes in between are missing. */
  | 'offset-gap'
  /** An append repeats committed bytes with different content. */
  | 'data-mismatch'
  /** An append or a total length beyond what the image can hold. */
  | 'beyond-end'
  /** complete() before all bytes are committed. */
  | 'image-incomplete'
  /** The bytes in the slot do not hash to the SHA-256 the write began with. */
  | 'image-hash-mismatch'
  /** A slot state change the slot's current state does not allow. */
  | 'slot-state'
  /** A slot writer used after another beginWrite or eraseSlot on its slot. */
  | 'writer-superseded'
  /** A slot was erased or rewritten while it was being read. */
  | 'slot-changed'
  /** The store was closed. */
  | 'closed';

export class StorageError extends Error {
  override readonly name = 'StorageError';

  constructor(
    readonly code: StorageErrorCode,
    message: string,
  ) {
    super(message);
  }
}
