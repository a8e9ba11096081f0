/**
 * Workshop stations. A station (a workshop PC running the workshop app) makes its own Ed25519 key
 * pair and asks to be registered to its dealer (pending); a dealer admin approves it. Mechanics
 * sign in at an approved station of their own dealer, and every request of such a session is
 * signed by the station key (headers below) over the method, the path, the SHA-256 of the body, a
 * timestamp and a nonce: a stolen access token is useless away from the station.
 */
import { Type, type Static } from '@sinclair/typebox';
import { sha256, toHex, utf8, type Signer } from '../crypto/index.js';
import { StringEnum } from './enums.js';
import { errorResponses } from './errors.js';
import { HexBytes } from './formats.js';
import { defineRoute } from './route.js';
import { ANONYMOUS_ALLOWED } from './roles.js';

const Hex32 = HexBytes(32);
const Hex64 = HexBytes(64);

export const StationIdSchema = Type.String({ pattern: '^STN-[0-9a-f-]{36}$' });

export const STATION_STATUSES = ['pending', 'approved', 'revoked'] as const;

export const StationSchema = Type.Object(
  {
    id: StationIdSchema,
    dealerId: Type.String(),
    name: Type.String(),
    publicKey: Type.String({ description: 'Ed25519 public key, hex.' }),
    status: StringEnum(STATION_STATUSES),
    requestedAt: Type.String({ format: 'date-time' }),
    approvedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
    revokedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  },
  { title: 'Station', additionalProperties: false },
);
export type Station = Static<typeof StationSchema>;

export const StationRegistrationSchema = Type.Object(
  {
    dealerId: Type.String({ minLength: 1, maxLength: 64 }),
    name: Type.String({ minLength: 1, maxLength: 120, description: 'e.g. "Bay 3 laptop".' }),
    publicKey: Hex32,
    signature: Type.Object(
      { value: Hex64 },
      {
        additionalProperties: false,
        description: 'The station key over stationRegistrationMessage(): proves it holds the key.',
      },
    ),
  },
  { title: 'StationRegistration', additionalProperties: false },
);
export type StationRegistration = Static<typeof StationRegistrationSchema>;

export const StationParamsSchema = Type.Object(
  { id: StationIdSchema },
  { additionalProperties: false },
);

export const registerStation = defineRoute({
  method: 'POST',
  url: '/v1/stations',
  operationId: 'registerStation',
  summary: 'A workshop station asks to be registered to its dealer (pending until approved)',
  tags: ['stations'],
  access: ANONYMOUS_ALLOWED,
  bodyLimit: 2048,
  schema: {
    body: StationRegistrationSchema,
    response: { 201: StationSchema, ...errorResponses(400, 404, 409, 413, 415) },
  },
});

export const listStations = defineRoute({
  method: 'GET',
  url: '/v1/stations',
  operationId: 'listStations',
  summary: "The dealer admin's stations: pending and approved",
  tags: ['stations'],
  access: ['dealer-admin'],
  schema: { response: { 200: Type.Array(StationSchema), ...errorResponses(401, 403) } },
});

export const approveStation = defineRoute({
  method: 'POST',
  url: '/v1/stations/:id/approve',
  operationId: 'approveStation',
  summary: 'A dealer admin approves a station of their dealer',
  tags: ['stations'],
  access: ['dealer-admin'],
  schema: {
    params: StationParamsSchema,
    response: { 200: StationSchema, ...errorResponses(400, 401, 403, 404, 409) },
  },
});

export const revokeStation = defineRoute({
  method: 'POST',
  url: '/v1/stations/:id/revoke',
  operationId: 'revokeStation',
  summary: 'A dealer admin revokes a station of their dealer (a lost or stolen workshop PC)',
  description:
    'At once and for good: every session signed in there ends, and nothing the station signs is ' +
    'accepted any more (no sign-in, no request, no registration, no grant). The station makes a ' +
    'new key pair to be registered again. Audit-logged.',
  tags: ['stations'],
  access: ['dealer-admin'],
  schema: {
    params: StationParamsSchema,
    response: { 200: StationSchema, ...errorResponses(400, 401, 403, 404) },
  },
});

/** What a station signs to register: the dealer, its key and its name. */
export const stationRegistrationMessage = (r: {
  dealerId: string;
  publicKey: string;
  name: string;
}): Uint8Array =>
  utf8(`mini-sharing station registration v1\n${r.dealerId}\n${r.publicKey}\n${r.name}`);

/** Headers of a station-signed request. */
export const STATION_SIGNATURE_HEADERS = {
  timestamp: 'x-station-timestamp',
  nonce: 'x-station-nonce',
  signature: 'x-station-signature',
} as const;

/** How far a signed request's timestamp may be from the cloud's clock, either way. */
export const STATION_SIGNATURE_WINDOW_MS = 60_000;

export interface StationRequest {
  method: string;
  /** The request target as sent: path and query (`/v1/vehicles/X?carOptionCodes=5GE`). */
  path: string;
  /** The body bytes as sent (empty when none). */
  body: Uint8Array;
  /** Milliseconds since the epoch. */
  timestamp: number;
  /** 16 to 64 characters of [A-Za-z0-9_-], never reused. */
  nonce: string;
}

/** The bytes a station signs for one request. */
export const stationRequestMessage = (r: StationRequest): Uint8Array =>
  utf8(
    [
      'mini-sharing station request v1',
      r.method.toUpperCase(),
      r.path,
      toHex(sha256(r.body)),
      String(r.timestamp),
      r.nonce,
    ].join('\n'),
  );

/** The signature headers for one request, signed by the station's key. */
export async function signStationRequest(
  signer: Signer,
  request: StationRequest,
): Promise<Record<string, string>> {
  const signature = await signer.sign(stationRequestMessage(request));
  return {
    [STATION_SIGNATURE_HEADERS.timestamp]: String(request.timestamp),
    [STATION_SIGNATURE_HEADERS.nonce]: request.nonce,
    [STATION_SIGNATURE_HEADERS.signature]: toHex(signature),
  };
}
