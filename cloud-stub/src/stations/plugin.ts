/**
 * Workshop stations (contract: shared-protocol api/stations.ts): a station registers its key to
 * its dealer, proving it holds the key; the dealer's admin lists, approves and revokes its
 * stations.
 */
import {
  approveStation,
  listStations,
  registerStation,
  revokeStation,
  stationRegistrationMessage,
} from '@mini-sharing/shared-protocol/api';
import { fromHex, verifyEd25519 } from '@mini-sharing/shared-protocol/crypto';
import type { CloudPlugin } from '../context.js';
import { ApiProblem } from '../http/errors.js';
import { routeOptions } from '../http/routes.js';
import { isUniqueViolation } from '../storage/storage.js';
import {
  addStation,
  approveDealerStation,
  listDealerStations,
  revokeDealerStation,
  stationView,
} from './stations.js';

/** The dealer of a dealer admin (the routes below let only dealer admins in). */
function adminDealer(principal: { role: string; dealerId?: string } | undefined): string {
  if (principal?.role !== 'dealer-admin' || principal.dealerId === undefined) {
    throw new Error('a dealer-admin route was called by someone else');
  }
  return principal.dealerId;
}

const noSuchStation = (id: string): ApiProblem =>
  new ApiProblem(
    404,
    'not-found',
    `Your dealer has no station ${id}. The list of your stations is GET /v1/stations.`,
  );

export const stationsPlugin: CloudPlugin = async (app, { context }) => {
  const { db } = context.storage;

  app.route({
    ...routeOptions(registerStation),
    handler: async (request, reply) => {
      const { dealerId, name, publicKey, signature } = request.body;
      const proves = await verifyEd25519(
        fromHex(publicKey),
        stationRegistrationMessage({ dealerId, publicKey, name }),
        fromHex(signature.value),
      );
      if (!proves) {
        throw new ApiProblem(
          400,
          'invalid-request',
          'body.signature: not a signature of this registration by the station key (sign ' +
            'stationRegistrationMessage with the key being registered).',
          [{ path: 'body.signature.value', message: 'does not verify with body.publicKey' }],
        );
      }
      const dealer = await db
        .selectFrom('dealers')
        .select('id')
        .where('id', '=', dealerId)
        .executeTakeFirst();
      if (!dealer) {
        throw new ApiProblem(
          404,
          'not-found',
          `There is no dealer ${dealerId}. Check the dealer id.`,
        );
      }
      try {
        const row = await addStation(db, { dealerId, name, publicKey }, context.now());
        return reply.code(201).send(stationView(row));
      } catch (error) {
        if (isUniqueViolation(error)) {
          throw new ApiProblem(
            409,
            'conflict',
            'This station key is already registered. A station makes a new key pair to register again.',
          );
        }
        throw error;
      }
    },
  });

  app.route({
    ...routeOptions(listStations),
    handler: async (request) =>
      (await listDealerStations(db, adminDealer(request.principal))).map(stationView),
  });

  app.route({
    ...routeOptions(approveStation),
    handler: async (request) => {
      const principal = request.principal!;
      const row = await approveDealerStation(
        db,
        adminDealer(principal),
        request.params.id,
        principal.accountId,
        context.now(),
      );
      if (!row) {
        throw noSuchStation(request.params.id);
      }
      if (row.revoked_at !== null) {
        throw new ApiProblem(
          409,
          'conflict',
          `Station ${row.id} was revoked on ${row.revoked_at} and stays revoked: the workshop PC ` +
            'makes a new key pair and registers again.',
        );
      }
      return stationView(row);
    },
  });

  app.route({
    ...routeOptions(revokeStation),
    handler: async (request) => {
      const principal = request.principal!;
      const row = await revokeDealerStation(
        db,
        adminDealer(principal),
        request.params.id,
        principal,
        context.now(),
      );
      if (!row) {
        throw noSuchStation(request.params.id);
      }
      return stationView(row);
    },
  });
};
