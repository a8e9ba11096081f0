/**
 * Vehicles: the vehicle-order registry and eligibility by VIN (contract: shared-protocol
 * api/vehicles.ts). Workshop roles read; only the brand's order system (agent) writes.
 */
import {
  getVehicleEligibility,
  getVehicleOrder,
  putVehicleOrder,
} from '@mini-sharing/shared-protocol/api';
import { parseOptionCodes, validateVin } from '@mini-sharing/shared-protocol/vehicle';
import type { CloudPlugin } from '../context.js';
import { ApiProblem } from '../http/errors.js';
import { routeOptions } from '../http/routes.js';
import { judgeEligibility } from './eligibility.js';
import { readVehicleOrderInput } from './order-input.js';
import { normalVin } from '../http/vin.js';
import { findVehicleOrder, saveVehicleOrder } from './orders.js';

const unknownVin = (vin: string) =>
  new ApiProblem(
    404,
    'not-found',
    `No vehicle order is registered for VIN ${vin}. Check the VIN on the windscreen label or ` +
      `the registration document; if it is right, the car is not in the brand's order system ` +
      `(contact the technical hotline).`,
  );

export const vehiclesPlugin: CloudPlugin = async (app, { context }) => {
  const { db } = context.storage;

  app.route({
    ...routeOptions(getVehicleOrder),
    handler: async (request) => {
      const vin = normalVin(request.params.vin);
      const order = await findVehicleOrder(db, vin);
      if (!order) throw unknownVin(vin);
      return order;
    },
  });

  app.route({
    ...routeOptions(putVehicleOrder),
    handler: async (request, reply) => {
      const checked = readVehicleOrderInput(request.params.vin, request.body);
      if (!checked.ok) {
        const details = checked.problems.map((problem) => ({
          path: problem.field === 'vin' ? 'params.vin' : `body.${problem.field}`,
          message: problem.message,
        }));
        const vinCheck = validateVin(request.params.vin, { market: request.body.market });
        if (!vinCheck.ok) throw new ApiProblem(400, 'invalid-vin', vinCheck.message, details);
        const first = details[0]!;
        const more = details.length > 1 ? ` (and ${details.length - 1} more, see details)` : '';
        throw new ApiProblem(
          400,
          'invalid-request',
          `${first.path}: ${first.message}${more}`,
          details,
        );
      }
      const { order, created } = await saveVehicleOrder(db, checked.order, context.now());
      return reply.code(created ? 201 : 200).send(order);
    },
  });

  app.route({
    ...routeOptions(getVehicleEligibility),
    handler: async (request) => {
      const vin = normalVin(request.params.vin);
      let carCodes: string[] | undefined;
      if (request.query.carOptionCodes !== undefined) {
        const parsed = parseOptionCodes(request.query.carOptionCodes);
        if (!parsed.ok) {
          throw new ApiProblem(
            400,
            'invalid-request',
            `querystring.carOptionCodes: ${parsed.message}`,
            [{ path: 'querystring.carOptionCodes', message: parsed.message }],
          );
        }
        carCodes = parsed.codes;
      }
      const order = await findVehicleOrder(db, vin);
      if (!order) throw unknownVin(vin);
      return judgeEligibility(order, carCodes);
    },
  });
};
