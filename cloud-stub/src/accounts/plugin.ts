/**
 * Identity routes (contract: shared-protocol api/auth.ts): sign-in, sign-out, password change and
 * the caller's account.
 *
 * Customers sign in from one phone at a time (DESIGN.md): the sign-in carries the phone's device
 * public key and the session is bound to it. A sign-in on another phone is refused while the
 * customer has an active booking (bookings are not built yet: `hasActiveBooking` says no until
 * they are); otherwise it ends the old phone's sessions (and, with bookings, voids its keys).
 */
import { changePassword, getMe, login, logout } from '@mini-sharing/shared-protocol/api';
import type { FastifyReply } from 'fastify';
import type { CloudPlugin } from '../context.js';
import { ApiProblem } from '../http/errors.js';
import { routeOptions } from '../http/routes.js';
import type { Storage } from '../storage/storage.js';
import {
  accountView,
  createSession,
  findAccount,
  findAccountByEmail,
  liveSessions,
  normalEmail,
  revokeAllSessions,
  revokeSession,
  setPassword,
} from './accounts.js';
import { findStation, isActiveStation } from '../stations/stations.js';
import { dummyPasswordHash, verifyPassword } from './passwords.js';
import { ACCOUNT_RULE, ADDRESS_RULE, Throttle } from './throttle.js';

/** Whether a customer has a booking in progress; bookings will answer this (issue #8 later). */
export type ActiveBookingCheck = (storage: Storage, accountId: string) => Promise<boolean>;
export const noBookingsYet: ActiveBookingCheck = async () => false;

// No password reset exists yet, so the message offers none.
const WRONG_CREDENTIALS =
  'The e-mail or the password is not right. Check both (the password is case-sensitive).';

function tooManyAttempts(reply: FastifyReply, waitMs: number): ApiProblem {
  const seconds = Math.max(1, Math.ceil(waitMs / 1000));
  void reply.header('retry-after', String(seconds));
  return new ApiProblem(
    429,
    'too-many-attempts',
    `Too many failed attempts. Wait ${seconds} second${seconds === 1 ? '' : 's'} before trying again.`,
  );
}

export const accountsPlugin: CloudPlugin = async (app, { context }) => {
  const { db } = context.storage;
  const accounts = new Throttle(db, 'account', ACCOUNT_RULE);
  const addresses = new Throttle(db, 'address', ADDRESS_RULE);
  const hasActiveBooking: ActiveBookingCheck = noBookingsYet;

  app.route({
    ...routeOptions(login),
    handler: async (request, reply) => {
      const { password, devicePublicKey } = request.body;
      const email = normalEmail(request.body.email);
      const nowMs = context.now().getTime();
      const accountKey = `email:${email}`;
      const addressKey = `ip:${request.ip}`;
      const wait = Math.max(
        await accounts.waitMs(accountKey, nowMs),
        await addresses.waitMs(addressKey, nowMs),
      );
      if (wait > 0) throw tooManyAttempts(reply, wait);

      const account = await findAccountByEmail(db, email);
      const matches = await verifyPassword(
        password,
        account?.password_hash ?? (await dummyPasswordHash()),
      );
      if (!account || !matches) {
        await accounts.failed(accountKey, nowMs);
        await addresses.failed(addressKey, nowMs);
        throw new ApiProblem(401, 'unauthenticated', WRONG_CREDENTIALS);
      }
      await accounts.succeeded(accountKey);

      const now = context.now();
      if (account.role === 'customer') {
        if (devicePublicKey === undefined) {
          throw new ApiProblem(
            400,
            'invalid-request',
            "body.devicePublicKey: a customer signs in from the companion app, which sends the phone's device public key.",
            [{ path: 'body.devicePublicKey', message: 'required for customer accounts' }],
          );
        }
        const live = await liveSessions(db, account.id, now);
        const otherPhone = live.some((s) => s.device_public_key !== devicePublicKey);
        if (otherPhone && (await hasActiveBooking(context.storage, account.id))) {
          throw new ApiProblem(
            409,
            'conflict',
            'This account is signed in on another phone with a booking in progress. End the ' +
              'booking and sign out on that phone first, then sign in here.',
          );
        }
        // One phone at a time: the old phone's (or this phone's earlier) sessions end.
        await revokeAllSessions(db, account.id, now);
      }
      const stationId = request.body.stationId;
      if (account.role === 'mechanic' && stationId === undefined) {
        throw new ApiProblem(
          403,
          'forbidden',
          'Mechanics sign in at a workshop station: sign in from the workshop app on an ' +
            'approved station of your dealer.',
        );
      }
      if (stationId !== undefined) {
        const station = await findStation(db, stationId);
        if (
          (account.role !== 'mechanic' && account.role !== 'dealer-admin') ||
          !isActiveStation(station) ||
          station.dealer_id !== account.dealer_id
        ) {
          throw new ApiProblem(
            403,
            'forbidden',
            'This station is not an approved workshop station of your dealer: sign in at one ' +
              'that is, or ask your dealer admin to approve this one.',
          );
        }
        await context.stationRequests.verify(request, stationId);
      }
      const session = await createSession(db, account, now, {
        ...(account.role === 'customer' && devicePublicKey ? { devicePublicKey } : {}),
        ...(stationId === undefined ? {} : { stationId }),
      });
      return {
        accessToken: session.accessToken,
        tokenType: 'Bearer' as const,
        expiresAt: session.expiresAt.toISOString(),
        account: accountView(account),
      };
    },
  });

  app.route({
    ...routeOptions(logout),
    handler: async (request, reply) => {
      const sessionId = request.principal?.sessionId;
      if (sessionId !== undefined) await revokeSession(db, sessionId, context.now());
      return reply.code(204).send(null);
    },
  });

  app.route({
    ...routeOptions(changePassword),
    handler: async (request, reply) => {
      const principal = request.principal!;
      const account = await findAccount(db, principal.accountId);
      if (!account) throw new ApiProblem(404, 'not-found', 'This account does not exist any more.');
      const nowMs = context.now().getTime();
      const key = `email:${account.email}`;
      const wait = await accounts.waitMs(key, nowMs);
      if (wait > 0) throw tooManyAttempts(reply, wait);
      if (!(await verifyPassword(request.body.currentPassword, account.password_hash))) {
        await accounts.failed(key, nowMs);
        throw new ApiProblem(
          403,
          'forbidden',
          'The current password is not right; the password was not changed.',
          [{ path: 'body.currentPassword', message: 'not the current password' }],
        );
      }
      await accounts.succeeded(key);
      if (request.body.newPassword === request.body.currentPassword) {
        throw new ApiProblem(
          400,
          'invalid-request',
          'body.newPassword: the new password is the current one; choose another.',
          [{ path: 'body.newPassword', message: 'the same as the current password' }],
        );
      }
      await setPassword(db, account.id, request.body.newPassword, context.now());
      return reply.code(204).send(null);
    },
  });

  app.route({
    ...routeOptions(getMe),
    handler: async (request) => {
      const account = await findAccount(db, request.principal!.accountId);
      if (!account) throw new ApiProblem(404, 'not-found', 'This account does not exist any more.');
      return accountView(account);
    },
  });
};
