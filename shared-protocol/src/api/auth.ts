/**
 * Identity: signing in with e-mail and password (one account across every brand portal), signing
 * out, changing the password (which ends every session of the account) and who the caller is.
 * A sign-in answers an opaque access token, sent as `Authorization: Bearer <token>`.
 *
 * Errors never say whether an e-mail has an account: a wrong e-mail and a wrong password get the
 * same answer. Repeated failures are slowed down (429 with Retry-After), per account and per
 * client address.
 */
import { Type, type Static } from '@sinclair/typebox';
import { ROLES } from './roles.js';
import { StringEnum } from './enums.js';
import { errorResponses } from './errors.js';
import { defineRoute } from './route.js';
import { ANONYMOUS_ALLOWED } from './roles.js';

const ALL_ROLES = [...ROLES] as [(typeof ROLES)[number], ...(typeof ROLES)[number][]];

export const EmailSchema = Type.String({
  format: 'email',
  maxLength: 254,
  description: 'Case does not matter: one address is one account.',
});

/** Long enough for pass phrases, short enough to bound the hashing work per request. */
export const PasswordSchema = Type.String({ minLength: 1, maxLength: 1024 });

export const NewPasswordSchema = Type.String({
  minLength: 12,
  maxLength: 1024,
  description: 'At least 12 characters.',
});

export const PostalAddressSchema = Type.Object(
  {
    lines: Type.Array(Type.String({ minLength: 1, maxLength: 200 }), {
      minItems: 1,
      maxItems: 4,
      description: 'Street and house number, and any further lines.',
    }),
    postalCode: Type.String({ minLength: 1, maxLength: 20 }),
    city: Type.String({ minLength: 1, maxLength: 120 }),
  },
  { title: 'PostalAddress', additionalProperties: false },
);
export type PostalAddress = Static<typeof PostalAddressSchema>;

export const AccountSchema = Type.Object(
  {
    id: Type.String(),
    email: Type.String({ description: 'Lower case.' }),
    name: Type.String(),
    country: Type.String({ pattern: '^[A-Z]{2}$', description: 'ISO 3166-1 alpha-2.' }),
    postalAddress: Type.Union([PostalAddressSchema, Type.Null()]),
    role: StringEnum(ROLES),
    dealerId: Type.Union([Type.String(), Type.Null()], {
      description: 'The dealer a mechanic or dealer admin works for; null for other roles.',
    }),
  },
  { title: 'Account', additionalProperties: false },
);
export type Account = Static<typeof AccountSchema>;

export const LoginRequestSchema = Type.Object(
  {
    email: EmailSchema,
    password: PasswordSchema,
    devicePublicKey: Type.Optional(
      Type.String({
        pattern: '^[0-9a-f]{64}$',
        description:
          "Customers: the phone's device public key (Ed25519, hex). The session is bound to it; " +
          'one phone per customer at a time.',
      }),
    ),
    stationId: Type.Optional(
      Type.String({
        pattern: '^STN-[0-9a-f-]{36}$',
        description:
          'Mechanics (required) and dealer admins (optional): the approved station of their ' +
          'dealer they sign in at. The request is then signed by the station key ' +
          '(stations.ts), and so is every request of the session.',
      }),
    ),
  },
  { title: 'LoginRequest', additionalProperties: false },
);
export type LoginRequest = Static<typeof LoginRequestSchema>;

export const SessionSchema = Type.Object(
  {
    accessToken: Type.String({ description: 'Send as `Authorization: Bearer <accessToken>`.' }),
    tokenType: Type.Literal('Bearer'),
    expiresAt: Type.String({ format: 'date-time' }),
    account: AccountSchema,
  },
  { title: 'Session', additionalProperties: false },
);
export type Session = Static<typeof SessionSchema>;

export const PasswordChangeSchema = Type.Object(
  { currentPassword: PasswordSchema, newPassword: NewPasswordSchema },
  { title: 'PasswordChange', additionalProperties: false },
);
export type PasswordChange = Static<typeof PasswordChangeSchema>;

export const login = defineRoute({
  method: 'POST',
  url: '/v1/auth/login',
  operationId: 'login',
  summary: 'Sign in with e-mail and password; answers an access token',
  description:
    'A wrong e-mail and a wrong password get the same 401. After repeated failures the account ' +
    'and the client address are slowed down: 429 with Retry-After (seconds).',
  tags: ['identity'],
  access: ANONYMOUS_ALLOWED,
  bodyLimit: 4096,
  schema: {
    body: LoginRequestSchema,
    response: { 200: SessionSchema, ...errorResponses(400, 401, 403, 409, 413, 415, 429) },
  },
});

export const logout = defineRoute({
  method: 'POST',
  url: '/v1/auth/logout',
  operationId: 'logout',
  summary: 'End this session (its access token stops working)',
  tags: ['identity'],
  access: ALL_ROLES,
  schema: { response: { 204: Type.Null(), ...errorResponses(401) } },
});

export const changePassword = defineRoute({
  method: 'POST',
  url: '/v1/auth/password',
  operationId: 'changePassword',
  summary: 'Change the password; every session of the account ends, on every portal',
  tags: ['identity'],
  access: ALL_ROLES,
  bodyLimit: 4096,
  schema: {
    body: PasswordChangeSchema,
    response: { 204: Type.Null(), ...errorResponses(400, 401, 403, 404, 413, 415, 429) },
  },
});

export const getMe = defineRoute({
  method: 'GET',
  url: '/v1/me',
  operationId: 'getMe',
  summary: 'The account of the caller',
  tags: ['identity'],
  access: ALL_ROLES,
  schema: { response: { 200: AccountSchema, ...errorResponses(401, 404) } },
});
