/**
 * The firmware catalog: signed images per hardware revision, each with its version, security
 * counter and release notes, and the image itself to download. The cloud verifies an image's
 * release signature before it lists it; the workshop app and the module verify it again.
 */
import { Type, type Static } from '@sinclair/typebox';
import { HARDWARE_REVISIONS } from '../vehicle/hardware.js';
import { StringEnum } from './enums.js';
import { errorResponses } from './errors.js';
import { Base64Text } from './formats.js';
import { defineRoute } from './route.js';
import { WORKSHOP_ROLES } from './roles.js';

/** An image's id in the catalog: the SHA-256 of the whole image, hex. */
export const FirmwareImageIdSchema = Type.String({
  pattern: '^[0-9a-f]{64}$',
  description: 'The SHA-256 of the whole signed image, lower-case hex.',
});

export const FirmwareImageParamsSchema = Type.Object(
  { id: FirmwareImageIdSchema },
  { additionalProperties: false },
);
export type FirmwareImageParams = Static<typeof FirmwareImageParamsSchema>;

export const HardwareRevisionSchema = StringEnum(
  HARDWARE_REVISIONS.map((revision) => revision.id),
  { description: 'A sharing-module hardware revision, e.g. HW-C.' },
);

export const FirmwareImageSummarySchema = Type.Object(
  {
    id: FirmwareImageIdSchema,
    version: Type.String({ description: 'major.minor.patch', examples: ['1.1.0'] }),
    hardwareRevisions: Type.Array(Type.String(), {
      description: 'Hardware revisions the image runs on.',
    }),
    securityCounter: Type.Integer({
      minimum: 0,
      description: 'Anti-rollback counter: a module refuses images below the counter it holds.',
    }),
    releaseNotes: Type.String(),
    sizeBytes: Type.Integer({ minimum: 0 }),
    signingKeyId: Type.String({ description: 'Key id of the release key that signed, hex.' }),
    publishedAt: Type.String({ format: 'date-time' }),
    downloadPath: Type.String({ description: 'Where to GET the image (this API, relative).' }),
  },
  { title: 'FirmwareImageSummary', additionalProperties: false },
);
export type FirmwareImageSummary = Static<typeof FirmwareImageSummarySchema>;

export const FirmwareListQuerySchema = Type.Object(
  { hardwareRevision: Type.Optional(HardwareRevisionSchema) },
  { additionalProperties: false },
);
export type FirmwareListQuery = Static<typeof FirmwareListQuerySchema>;

export const FirmwareListSchema = Type.Object(
  {
    images: Type.Array(FirmwareImageSummarySchema, {
      description: 'Newest version first.',
    }),
  },
  { title: 'FirmwareList', additionalProperties: false },
);
export type FirmwareList = Static<typeof FirmwareListSchema>;

/** Largest image the catalog takes (the module's slot is 2 MB; room for growth). */
export const MAX_FIRMWARE_IMAGE_BYTES = 16 * 1024 * 1024;

export const FirmwareUploadSchema = Type.Object(
  {
    image: Base64Text('The signed image (.msfw), base64.', {
      maxLength: Math.ceil(MAX_FIRMWARE_IMAGE_BYTES / 3) * 4,
    }),
    releaseNotes: Type.String({ maxLength: 20_000 }),
  },
  { title: 'FirmwareUpload', additionalProperties: false },
);
export type FirmwareUpload = Static<typeof FirmwareUploadSchema>;

export const listFirmwareImages = defineRoute({
  method: 'GET',
  url: '/v1/firmware',
  operationId: 'listFirmwareImages',
  summary: 'The firmware catalog, optionally only the images for one hardware revision',
  tags: ['firmware'],
  access: WORKSHOP_ROLES,
  schema: {
    querystring: FirmwareListQuerySchema,
    response: { 200: FirmwareListSchema, ...errorResponses(400, 401, 403) },
  },
});

export const downloadFirmwareImage = defineRoute({
  method: 'GET',
  url: '/v1/firmware/:id/image',
  operationId: 'downloadFirmwareImage',
  summary: 'Download a signed firmware image (.msfw)',
  tags: ['firmware'],
  access: WORKSHOP_ROLES,
  schema: {
    params: FirmwareImageParamsSchema,
    response: {
      200: {
        description: 'The signed image, byte for byte as released.',
        content: {
          'application/octet-stream': { schema: Type.String({ format: 'binary' }) },
        },
      },
      ...errorResponses(400, 401, 403, 404),
    },
  },
});

export const publishFirmwareImage = defineRoute({
  method: 'POST',
  url: '/v1/firmware',
  operationId: 'publishFirmwareImage',
  summary: 'Publish a signed firmware image with its release notes (release team)',
  description:
    'The image must carry a valid signature of a release key the cloud trusts. Idempotent: ' +
    'the same image again answers 200 with the stored entry; a different image for a version ' +
    'and hardware revision already in the catalog is a conflict.',
  tags: ['firmware'],
  access: ['agent'],
  bodyLimit: Math.ceil(MAX_FIRMWARE_IMAGE_BYTES / 3) * 4 + 64 * 1024,
  schema: {
    body: FirmwareUploadSchema,
    response: {
      200: FirmwareImageSummarySchema,
      201: FirmwareImageSummarySchema,
      ...errorResponses(400, 401, 403, 409, 413, 415, 422),
    },
  },
});
