/** Health: whether the service and its store answer (public; says nothing else). */
import { getHealth } from '@mini-sharing/shared-protocol/api';
import type { CloudPlugin } from '../context.js';
import { ApiProblem } from '../http/errors.js';
import { routeOptions } from '../http/routes.js';
import { storageAnswers } from '../storage/storage.js';

export const healthPlugin: CloudPlugin = async (app, { context }) => {
  app.route({
    ...routeOptions(getHealth),
    handler: async () => {
      if (!(await storageAnswers(context.storage))) {
        throw new ApiProblem(
          503,
          'unavailable',
          'The cloud cannot reach its store; retry shortly.',
        );
      }
      return { status: 'ok' as const, checks: { storage: 'ok' as const } };
    },
  });
};
