/**
 * Firmware: the catalog of signed images per hardware revision, their download, and publishing
 * (contract: shared-protocol api/firmware.ts). Workshop roles read and download; only the brand
 * (agent) publishes.
 */
import {
  downloadFirmwareImage,
  listFirmwareImages as listRoute,
  publishFirmwareImage as publishRoute,
} from '@mini-sharing/shared-protocol/api';
import type { CloudPlugin } from '../context.js';
import { ApiProblem } from '../http/errors.js';
import { routeOptions } from '../http/routes.js';
import { releaseKeysOf } from './release-keys.js';
import { listFirmwareImages, publishFirmwareImage, readFirmwareImageBytes } from './catalog.js';

export const firmwarePlugin: CloudPlugin = async (app, { context }) => {
  const { db } = context.storage;
  const releaseKeys = releaseKeysOf(context.config);

  app.route({
    ...routeOptions(listRoute),
    handler: async (request) => ({
      images: await listFirmwareImages(db, request.query.hardwareRevision),
    }),
  });

  app.route({
    ...routeOptions(downloadFirmwareImage),
    handler: async (request, reply) => {
      const image = await readFirmwareImageBytes(db, request.params.id);
      if (!image) {
        throw new ApiProblem(
          404,
          'not-found',
          `The firmware catalog has no image ${request.params.id}. List the catalog ` +
            `(GET /v1/firmware) for the current images.`,
        );
      }
      return (
        reply
          .header('content-type', 'application/octet-stream')
          .header(
            'content-disposition',
            `attachment; filename="mini-sharing-firmware-${image.version}.msfw"`,
          )
          .header('etag', `"${request.params.id}"`)
          .header('cache-control', 'public, max-age=31536000, immutable')
          // The contract types the body as a (binary) string; Fastify sends Buffers as they are.
          .send(image.bytes as unknown as string)
      );
    },
  });

  app.route({
    ...routeOptions(publishRoute),
    handler: async (request, reply) => {
      const bytes = Buffer.from(request.body.image, 'base64');
      const result = await publishFirmwareImage(db, {
        bytes,
        releaseNotes: request.body.releaseNotes,
        releaseKeys,
        now: context.now(),
      });
      switch (result.outcome) {
        case 'rejected':
          throw new ApiProblem(422, 'invalid-firmware-image', result.message, [
            { path: 'body.image', message: `${result.reason}: ${result.message}` },
          ]);
        case 'conflict':
          throw new ApiProblem(409, 'conflict', result.message);
        case 'created':
          return reply.code(201).send(result.image);
        case 'existing':
          return reply.code(200).send(result.image);
      }
    },
  });
};
