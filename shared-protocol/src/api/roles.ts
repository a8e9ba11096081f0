/**
 * Who may call a route. Every route of the contract names its access: the roles that may call it,
 * or ANONYMOUS_ALLOWED for the few public routes (health, the OpenAPI document). The cloud refuses
 * a route to anyone else; clients use the same table to hide what their user cannot do.
 */

export const ROLES = [
  /** An owner or driver, on the companion app. */
  'customer',
  /** A mechanic of one dealer, at one of the dealer's workshop stations. */
  'mechanic',
  /** The administrator of one dealer (manages its mechanics and stations). */
  'dealer-admin',
  /** Brand staff: call centre and support, across dealers and markets. */
  'agent',
] as const;

export type Role = (typeof ROLES)[number];

/** The access marker of public routes: callable without credentials. */
export const ANONYMOUS_ALLOWED = 'anonymous-allowed';

export type RouteAccess = typeof ANONYMOUS_ALLOWED | readonly [Role, ...Role[]];

/** Roles of the dealership and brand side: who works on cars in a workshop, and support. */
export const WORKSHOP_ROLES = ['mechanic', 'dealer-admin', 'agent'] as const satisfies RouteAccess;

export const isRole = (value: unknown): value is Role =>
  typeof value === 'string' && (ROLES as readonly string[]).includes(value);

/** Whether a caller with `role` (undefined: anonymous) may call a route with `access`. */
export function mayCall(access: RouteAccess, role: Role | undefined): boolean {
  if (access === ANONYMOUS_ALLOWED) return true;
  return role !== undefined && access.includes(role);
}
