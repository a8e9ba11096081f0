/**
 * Installation reports (contract: shared-protocol api/installation.ts): the workshop sends the
 * report of a registered module's tests; an accepted report makes the module ready to share.
 * The rules are in reports.ts.
 */
import { submitInstallationReport } from '@mini-sharing/shared-protocol/api';
import type { CloudPlugin } from '../context.js';
import { routeOptions } from '../http/routes.js';
import { canonicalSerial } from '../http/module-serial.js';
import { requireStationSession, stationPrincipalOf } from '../stations/station-session.js';
import { stationStaff, submitReport } from './reports.js';

export const installationPlugin: CloudPlugin = async (app, { context }) => {
  const { db } = context.storage;

  app.route({
    ...routeOptions(submitInstallationReport),
    onRequest: requireStationSession('Installation reports are taken'),
    handler: async (request, reply) => {
      const staff = stationStaff(stationPrincipalOf(request));
      const serial = canonicalSerial(request.params.serial);
      const { created, answer } = await submitReport(db, {
        serial,
        body: request.body,
        staff,
        now: context.now(),
      });
      return reply.code(created ? 201 : 200).send(answer);
    },
  });
};
