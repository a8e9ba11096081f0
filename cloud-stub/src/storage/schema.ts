/**
 * The tables, as Kysely sees them. Column types are the ones both engines return: text, integer,
 * bytes (Buffer from better-sqlite3 and from pg). Times are ISO 8601 UTC text, which sorts and
 * compares the same on both. PostgreSQL returns bigint columns as strings, so the one bigint
 * (a firmware security counter, a u32) is read back through Number().
 */
import type { ColumnType, Insertable, Selectable } from 'kysely';

export interface DealersTable {
  id: string;
  name: string;
  /** ISO 3166-1 alpha-2. */
  market: string;
  created_at: string;
  updated_at: string;
}

export interface MechanicsTable {
  id: string;
  dealer_id: string;
  name: string;
  /** Lower case; unique across dealers (one account per person). */
  email: string;
  role: 'mechanic' | 'dealer-admin';
  created_at: string;
  updated_at: string;
}

export interface VehicleOrdersTable {
  vin: string;
  model: string;
  market: string;
  /** YYYY-MM-DD. */
  production_date: string;
  /** Normalised option codes (sorted, no duplicates), joined with ",". */
  option_codes: string;
  created_at: string;
  updated_at: string;
}

export interface FirmwareImagesTable {
  /** SHA-256 of the whole image, hex: the same image is the same entry, however often sent. */
  id: string;
  /** major.minor.patch */
  version: string;
  version_major: number;
  version_minor: number;
  version_patch: number;
  security_counter: ColumnType<number | string, number, number>;
  size_bytes: number;
  signing_key_id: string;
  release_notes: string;
  image: Uint8Array;
  published_at: string;
}

/** Which hardware revisions an image runs on; one image per (revision, version). */
export interface FirmwareImageRevisionsTable {
  image_id: string;
  hardware_revision: string;
  version: string;
}

export interface AccountsTable {
  id: string;
  /** Lower case; unique (one account per person across every portal). */
  email: string;
  /** `scrypt$<log2 N>$<r>$<p>$<salt b64url>$<hash b64url>` (accounts/passwords.ts). */
  password_hash: string;
  name: string;
  /** ISO 3166-1 alpha-2. */
  country: string;
  /** JSON of the contract's PostalAddress; null when not given (staff from the directory). */
  postal_address: string | null;
  role: 'customer' | 'mechanic' | 'dealer-admin' | 'agent';
  /** The dealer of a mechanic or dealer admin; null for the other roles. */
  dealer_id: string | null;
  password_changed_at: string;
  created_at: string;
  updated_at: string;
}

export interface SessionsTable {
  id: string;
  /** SHA-256 of the access token, hex: a leaked table gives no usable token. */
  token_hash: string;
  account_id: string;
  /** A customer's phone: its device public key (hex); null for other sessions. */
  device_public_key: string | null;
  created_at: string;
  expires_at: string;
  revoked_at: string | null;
  /** The workshop station the session was signed in at; every request must be signed by it. */
  station_id: ColumnType<string | null, string | null | undefined, string | null>;
}

export interface StationsTable {
  id: string;
  dealer_id: string;
  name: string;
  /** Ed25519, hex; unique (one key, one station). */
  public_key: string;
  status: 'pending' | 'approved';
  requested_at: string;
  approved_at: string | null;
  /** The dealer admin's account id. */
  approved_by: string | null;
  /** Set when a dealer admin revoked the station: it signs nothing any more. */
  revoked_at: string | null;
  /** The dealer admin's account id. */
  revoked_by: string | null;
}

/** Milliseconds as bigint: numbers in, numbers or strings (PostgreSQL) out; read through Number(). */
type Millis = ColumnType<number | string, number, number>;
type NullableMillis = ColumnType<number | string | null, number | null | undefined, number | null>;

/** A single-use nonce the cloud gave a station for one provisioning (proof of possession). */
export interface RegistrationNoncesTable {
  /** 32 random bytes, hex. */
  nonce: string;
  account_id: string;
  station_id: string;
  created_at: string;
  expires_at: string;
  used_at: string | null;
  used_for_serial: string | null;
}

/** A module fitted to a car. One active registration per serial and per VIN. */
export interface ModuleRegistrationsTable {
  /** REG-<uuid>. */
  id: string;
  serial: string;
  vin: string;
  hardware_revision: string;
  firmware_version: string;
  /** Ed25519 public key of the module's identity, hex. */
  identity_public_key: string;
  /** Encoded Signed ModuleCertificate. */
  certificate: Uint8Array;
  /** The advertising secret the module got (key holders' phones need it to recognise the car). */
  advertising_secret: Uint8Array;
  mqtt_username: string;
  /** keys/module-credentials.ts hashModulePassword output. */
  mqtt_password_hash: string;
  /** The car's owner generation; the owner side raises it on an ownership change. */
  owner_generation: ColumnType<number, number | undefined, number>;
  status: 'active' | 'decommissioned';
  dealer_id: string;
  /** Account id of the mechanic who registered it. */
  mechanic_id: string;
  station_id: string;
  registered_at: string;
  updated_at: string;
  /** Set when an installation report was accepted: the car may be shared from then on. */
  ready_to_share_at: string | null;
  decommissioned_at: string | null;
  /** Account id of the dealer admin. */
  decommissioned_by: string | null;
  decommission_reason: string | null;
}

export interface InstallationReportsTable {
  /** The workshop's report id (a queued report sent twice is stored once). */
  id: string;
  registration_id: string;
  serial: string;
  vin: string;
  verdict: 'accepted' | 'rejected';
  /** JSON of the rejection reasons; null when accepted. */
  rejection: string | null;
  /** JSON of the report. */
  report: string;
  account_id: string;
  dealer_id: string;
  station_id: string;
  started_at: string;
  finished_at: string;
  received_at: string;
}

/** A workshop test key or service authorization issued to a station. */
export interface WorkshopGrantsTable {
  /** Hex of the token id / authorization id. */
  id: string;
  kind: 'test-key' | 'service-authorization';
  registration_id: string;
  serial: string;
  vin: string;
  account_id: string;
  dealer_id: string;
  station_id: string;
  /** Comma-joined permissions or operations. */
  scope: string;
  issued_at: string;
  not_after: string;
}

export interface OwnerNotificationsTable {
  id: string;
  vin: string;
  serial: string;
  /** The owner's account once the owner side links cars to accounts; null until then. */
  account_id: string | null;
  kind: string;
  message: string;
  /** JSON. */
  details: string;
  created_at: string;
  read_at: string | null;
}

export interface AuditLogTable {
  id: string;
  at: string;
  action: string;
  account_id: string;
  role: string;
  dealer_id: string | null;
  station_id: string | null;
  serial: string | null;
  vin: string | null;
  /** JSON. */
  details: string;
}

/** Presence and last contact per module (module-link/reports.ts ModuleLinkStatus). */
export interface ModuleLinkStatusTable {
  serial: string;
  presence: 'online' | 'offline' | 'connection-lost' | null;
  connection_id: Uint8Array | null;
  firmware_version: string | null;
  presence_changed_at_ms: NullableMillis;
  last_contact_ms: NullableMillis;
}

/** Telemetry, events and command results as modules sent them (verified). */
export interface ModuleReportsTable {
  /** Hex of the envelope id. */
  envelope_id: string;
  serial: string;
  kind: 'telemetry' | 'event' | 'command-result';
  body_case: string;
  body: Uint8Array;
  sent_at_ms: Millis;
  received_at_ms: Millis;
  /** 1 when the link removed a position (location rule). */
  position_dropped: ColumnType<number, number | undefined, number>;
}

/** The fault codes a module reported (latest report per code). */
export interface ModuleFaultCodesTable {
  serial: string;
  code: string;
  /** 1 present now, 0 stored from the past. */
  active: number;
  occurrences: number;
  first_reported_ms: Millis;
  last_reported_ms: Millis;
}

/** A module's current retained state (revocation list, booking), re-signed on publication. */
export interface ModuleRetainedStateTable {
  serial: string;
  kind: 'revocation-list' | 'booking';
  body: Uint8Array;
  expires_at_ms: Millis;
  updated_at: string;
}

/** The cloud's signing key set (one row, id 1; keys/key-store.ts). */
export interface CloudSigningKeysTable {
  id: number;
  /** JSON of the set: seeds and certificates, hex. */
  key_set: string;
  updated_at: string;
}

/** The sign-in throttle's failure count per key (accounts/throttle.ts). */
export interface ThrottleEntriesTable {
  key: string;
  failures: number;
  last_failure_ms: Millis;
  locked_until_ms: Millis;
}

/** Nonces of station-signed requests, kept while a replay could still be in the time window. */
export interface StationRequestNoncesTable {
  station_id: string;
  nonce: string;
  expires_at_ms: Millis;
}

export interface Database {
  accounts: AccountsTable;
  sessions: SessionsTable;
  stations: StationsTable;
  dealers: DealersTable;
  mechanics: MechanicsTable;
  vehicle_orders: VehicleOrdersTable;
  firmware_images: FirmwareImagesTable;
  firmware_image_revisions: FirmwareImageRevisionsTable;
  registration_nonces: RegistrationNoncesTable;
  module_registrations: ModuleRegistrationsTable;
  installation_reports: InstallationReportsTable;
  workshop_grants: WorkshopGrantsTable;
  owner_notifications: OwnerNotificationsTable;
  audit_log: AuditLogTable;
  module_link_status: ModuleLinkStatusTable;
  module_reports: ModuleReportsTable;
  module_fault_codes: ModuleFaultCodesTable;
  module_retained_state: ModuleRetainedStateTable;
  cloud_signing_keys: CloudSigningKeysTable;
  throttle_entries: ThrottleEntriesTable;
  station_request_nonces: StationRequestNoncesTable;
}

export type DealerRow = Selectable<DealersTable>;
export type MechanicRow = Selectable<MechanicsTable>;
export type VehicleOrderRow = Selectable<VehicleOrdersTable>;
export type NewVehicleOrderRow = Insertable<VehicleOrdersTable>;
export type FirmwareImageRow = Selectable<FirmwareImagesTable>;
export type AccountRow = Selectable<AccountsTable>;
export type SessionRow = Selectable<SessionsTable>;
export type StationRow = Selectable<StationsTable>;
export type ModuleRegistrationRow = Selectable<ModuleRegistrationsTable>;
export type InstallationReportRow = Selectable<InstallationReportsTable>;
export type WorkshopGrantRow = Selectable<WorkshopGrantsTable>;
export type AuditLogRow = Selectable<AuditLogTable>;
