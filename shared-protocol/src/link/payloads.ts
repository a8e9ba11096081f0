/**
 * The module link's payload messages (proto mini.link.v1) and the rules about where each goes:
 * which topic carries which body, and when a position may be reported.
 */
import type { CloudEnvelope, ModuleEnvelope } from '../messages/gen/mini/link/v1/envelopes_pb.js';
import { HolderRole } from '../messages/gen/mini/trust/v1/formats_pb.js';
import type { ModuleTopicKind } from './topics.js';

export * from '../messages/gen/mini/link/v1/commands_pb.js';
export * from '../messages/gen/mini/link/v1/envelopes_pb.js';
export * from '../messages/gen/mini/link/v1/reports_pb.js';

/** Name of a cloud envelope body, e.g. `'bookingStarted'`. */
export type CloudBodyKind = NonNullable<CloudEnvelope['body']['case']>;
/** Name of a module envelope body, e.g. `'telemetry'`. */
export type ModuleBodyKind = NonNullable<ModuleEnvelope['body']['case']>;

/** Where the cloud publishes each body (state topics are retained). */
export const CLOUD_BODY_TOPIC = {
  bookingStarted: 'commands',
  bookingEnded: 'commands',
  timeSync: 'commands',
  cloudKeyRotation: 'commands',
  newOwnerReset: 'commands',
  telemetryRequest: 'commands',
  revocationList: 'revocation-list',
  bookingState: 'booking',
} as const satisfies Record<CloudBodyKind, ModuleTopicKind>;

/** Where a module publishes each body; the cloud ignores a body on another topic. */
export const MODULE_BODY_TOPIC = {
  presence: 'presence',
  telemetry: 'telemetry',
  event: 'events',
  commandResult: 'command-results',
} as const satisfies Record<ModuleBodyKind, ModuleTopicKind>;

/** Whether an envelope's body belongs on the topic kind it arrived on. */
export function bodyBelongsOn(
  envelope: CloudEnvelope | ModuleEnvelope,
  kind: ModuleTopicKind,
): boolean {
  const { body } = envelope;
  if (body.case === undefined) return false;
  const table: Record<string, ModuleTopicKind> =
    envelope.$typeName === 'mini.link.v1.CloudEnvelope' ? CLOUD_BODY_TOPIC : MODULE_BODY_TOPIC;
  return table[body.case] === kind;
}

/** A booking as far as the location rule cares: who holds it. */
export interface BookingHolder {
  role: HolderRole;
}

/**
 * DESIGN.md "Location": the module sends no position while a driver's booking runs (drivers and
 * VIP drivers alike); with no booking or the owner's own booking it may. The module checks this
 * before every report; the cloud checks it again and drops a position that breaks it.
 */
export const positionAllowed = (running: BookingHolder | undefined): boolean =>
  running === undefined ||
  (running.role !== HolderRole.DRIVER && running.role !== HolderRole.VIP_DRIVER);

/** True when a module report carries a position that `positionAllowed` forbids. */
export function breaksLocationRule(
  envelope: ModuleEnvelope,
  running: BookingHolder | undefined,
): boolean {
  const { body } = envelope;
  return (
    body.case === 'telemetry' && body.value.position !== undefined && !positionAllowed(running)
  );
}
