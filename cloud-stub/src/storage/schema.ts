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
}

export type DealerRow = Selectable<DealersTable>;
export type MechanicRow = Selectable<MechanicsTable>;
export type VehicleOrderRow = Selectable<VehicleOrdersTable>;
export type NewVehicleOrderRow = Insertable<VehicleOrdersTable>;
export type FirmwareImageRow = Selectable<FirmwareImagesTable>;
export type AccountRow = Selectable<AccountsTable>;
export type SessionRow = Selectable<SessionsTable>;
export type StationRow = Selectable<StationsTable>;
