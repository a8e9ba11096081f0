/**
 * The module registry (contract: shared-protocol api/modules.ts): registration nonces and module
 * registration at the provisioning step, for a mechanic or dealer admin signed in at a workshop
 * station; decommissioning, for any dealer admin. The rules live in registration.ts, nonces.ts
 * and registry.ts.
 */
import {
  createRegistrationNonce,
  decommissionModule,
  registerModule,
} from '@mini-sharing/shared-protocol/api';
import type { CloudPlugin } from '../context.js';
import { ApiProblem } from '../http/errors.js';
import { routeOptions } from '../http/routes.js';
import { issueRegistrationNonce } from './nonces.js';
import { canonicalSerial } from '../http/module-serial.js';
import { requireStationSession, stationPrincipalOf } from '../stations/station-session.js';
import { registerModule as register } from './registration.js';
import { decommissionRegistration, moduleRegistrationView } from './registry.js';

export const modulesPlugin: CloudPlugin = async (app, { context }) => {
  const { db } = context.storage;

  app.route({
    ...routeOptions(createRegistrationNonce),
    onRequest: requireStationSession('Modules are registered'),
    handler: async (request, reply) => {
      const nonce = await issueRegistrationNonce(db, stationPrincipalOf(request), context.now());
      return reply.code(201).send(nonce);
    },
  });

  app.route({
    ...routeOptions(registerModule),
    onRequest: requireStationSession('Modules are registered'),
    handler: async (request, reply) => {
      const { created, answer } = await register(
        context,
        stationPrincipalOf(request),
        request.body,
      );
      return reply.code(created ? 201 : 200).send(answer);
    },
  });

  app.route({
    ...routeOptions(decommissionModule),
    handler: async (request) => {
      const serial = canonicalSerial(request.params.serial, 'params.serial');
      const reason = request.body.reason.trim();
      if (reason === '') {
        const message = 'Say why the module is decommissioned (the audit log keeps it).';
        throw new ApiProblem(400, 'invalid-request', `body.reason: ${message}`, [
          { path: 'body.reason', message },
        ]);
      }
      const row = await decommissionRegistration(
        db,
        request.principal!,
        serial,
        reason,
        context.now(),
      );
      if (!row) {
        throw new ApiProblem(
          404,
          'not-found',
          `Module ${serial} has no active registration: it was never registered or is already ` +
            `decommissioned. Check the serial on the module's label.`,
        );
      }
      return moduleRegistrationView(row);
    },
  });
};
