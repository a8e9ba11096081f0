/**
 * What the report senders publish on: the current MQTT connection once it is online (retained
 * state applied). A new connection is a new channel; a channel that is no longer `open` takes
 * nothing more, and callbacks for it are ignored.
 */
import type { ModuleBodyInit, ModuleTopicKind } from '@mini-sharing/shared-protocol/link';

export interface ReportChannel {
  readonly open: boolean;
  publish(
    kind: ModuleTopicKind,
    payload: Uint8Array,
    qos: 0 | 1,
    acknowledged?: (error?: Error) => void,
  ): void;
}

/** Signs a module → cloud body with the identity key, at `timeMs`; the MQTT payload. */
export type ReportSigner = (body: ModuleBodyInit, timeMs: number) => Promise<Uint8Array>;

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export const describeError = (error: unknown): string =>
  error instanceof Error ? error.message : String(error);
