/**
 * What the owner of a car in use is told when a workshop gets a test key or a service
 * authorization for its module (any dealer may service any car, so the owner must be able to
 * notice a grant they did not expect). Plain text an owner understands, with the details as data
 * for the owner side's feed.
 */
import type { ServiceOperationName } from '@mini-sharing/shared-protocol/api';

export type GrantKind = 'test-key' | 'service-authorization';

/** The owner_notifications kind of each grant. */
export const NOTIFICATION_KIND: Readonly<Record<GrantKind, string>> = {
  'test-key': 'workshop-test-key',
  'service-authorization': 'service-authorization',
};

const MONTHS = [
  'January',
  'February',
  'March',
  'April',
  'May',
  'June',
  'July',
  'August',
  'September',
  'October',
  'November',
  'December',
];

/** "1 June 2026, 12:15 UTC": the same on every machine (no locale data). */
export function ownerTime(at: Date): string {
  const hh = String(at.getUTCHours()).padStart(2, '0');
  const mm = String(at.getUTCMinutes()).padStart(2, '0');
  return `${at.getUTCDate()} ${MONTHS[at.getUTCMonth()]} ${at.getUTCFullYear()}, ${hh}:${mm} UTC`;
}

/** Service operations as an owner reads them. */
const OPERATION_WORDS: Readonly<Record<ServiceOperationName, string>> = {
  flash: 'install new software on the sharing module',
  provision: 'set the sharing module up again',
  'actuating-self-test': 'run tests that work the central locking and the immobilizer',
  'clear-faults': 'clear stored fault codes',
  'factory-reset': 'reset the sharing module to factory settings',
};

const listWords = (words: readonly string[]): string =>
  words.length <= 1 ? (words[0] ?? '') : `${words.slice(0, -1).join(', ')} and ${words.at(-1)}`;

export interface GrantNoticeFacts {
  kind: GrantKind;
  grantId: string;
  vin: string;
  serial: string;
  dealer: { id: string; name: string };
  station: { id: string; name: string };
  /** Permissions (test key) or operations (service authorization), by name. */
  scope: readonly string[];
  notBefore: Date;
  notAfter: Date;
}

export interface OwnerNotice {
  kind: string;
  message: string;
  details: Record<string, unknown>;
}

export function ownerNotice(facts: GrantNoticeFacts): OwnerNotice {
  const workshop = `${facts.dealer.name} (workshop station "${facts.station.name}")`;
  const until = ownerTime(facts.notAfter);
  const what =
    facts.kind === 'test-key'
      ? `received a workshop test key for your car ${facts.vin}: it can unlock and lock the car ` +
        `(it cannot start or drive it) until ${until}.`
      : `was authorized to service the sharing module of your car ${facts.vin} until ${until}: ` +
        `it may ${listWords(facts.scope.map((op) => OPERATION_WORDS[op as ServiceOperationName] ?? op))}.`;
  return {
    kind: NOTIFICATION_KIND[facts.kind],
    message:
      `${workshop} ${what} If you did not bring your car to a workshop, ` +
      'contact the MINI Sharing call centre.',
    details: {
      grantId: facts.grantId,
      grant: facts.kind,
      vin: facts.vin,
      moduleSerial: facts.serial,
      dealerId: facts.dealer.id,
      dealerName: facts.dealer.name,
      stationId: facts.station.id,
      stationName: facts.station.name,
      scope: [...facts.scope],
      notBefore: facts.notBefore.toISOString(),
      notAfter: facts.notAfter.toISOString(),
    },
  };
}
