/**
 * Station-signed requests (format: shared-protocol api/stations.ts). A session signed in at a
 * station is accepted only on requests signed by that station's key, over the method, the
 * request target, the SHA-256 of the body as sent, a timestamp within a minute of the cloud's
 * clock and a nonce never seen before (kept in memory for twice the window, per process).
 */
import {
  STATION_SIGNATURE_HEADERS,
  STATION_SIGNATURE_WINDOW_MS,
  stationRequestMessage,
} from '@mini-sharing/shared-protocol/api';
import { fromHex, verifyEd25519 } from '@mini-sharing/shared-protocol/crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ApiProblem } from '../http/errors.js';
import { isUniqueViolation, type Storage } from '../storage/storage.js';
import { findStation, isActiveStation } from './stations.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The request body as received (JSON bodies), for station signatures. */
    rawBody?: Buffer;
  }
}

const NONCE = /^[A-Za-z0-9_-]{16,64}$/;
const SIGNATURE = /^[0-9a-f]{128}$/;
/** Expired nonces are deleted once every this many signed requests (per process). */
const SWEEP_EVERY = 1000;

const refuse = (why: string): ApiProblem =>
  new ApiProblem(
    401,
    'unauthenticated',
    `This request must be signed by the workshop station's key: ${why}.`,
  );

export class StationRequestVerifier {
  private requestsSinceSweep = 0;

  constructor(
    private readonly storage: Storage,
    private readonly now: () => Date,
  ) {}

  private header(request: FastifyRequest, name: string): string | undefined {
    const value = request.headers[name];
    return typeof value === 'string' ? value : undefined;
  }

  /** Throws a 401 ApiProblem unless `request` is signed by the key of approved station `stationId`. */
  async verify(request: FastifyRequest, stationId: string): Promise<void> {
    const timestampText = this.header(request, STATION_SIGNATURE_HEADERS.timestamp);
    const nonce = this.header(request, STATION_SIGNATURE_HEADERS.nonce);
    const signature = this.header(request, STATION_SIGNATURE_HEADERS.signature);
    if (timestampText === undefined || nonce === undefined || signature === undefined) {
      throw refuse(`send ${Object.values(STATION_SIGNATURE_HEADERS).join(', ')} (one each)`);
    }
    if (!/^\d{1,16}$/.test(timestampText)) throw refuse('the timestamp is not milliseconds');
    if (!NONCE.test(nonce)) throw refuse('the nonce is not 16-64 characters of [A-Za-z0-9_-]');
    if (!SIGNATURE.test(signature)) throw refuse('the signature is not 64 bytes of hex');
    const now = this.now().getTime();
    const timestamp = Number(timestampText);
    if (Math.abs(now - timestamp) > STATION_SIGNATURE_WINDOW_MS) {
      throw refuse(
        "the timestamp is more than a minute from the cloud's clock (check the station's clock)",
      );
    }
    const station = await findStation(this.storage.db, stationId);
    const revoked = station !== undefined && station.revoked_at !== null;
    if (!isActiveStation(station)) {
      throw refuse(
        revoked
          ? 'the station was revoked by its dealer admin (sign in at another station)'
          : 'the station is not an approved station',
      );
    }
    const message = stationRequestMessage({
      method: request.method,
      path: request.url,
      body: request.rawBody ?? new Uint8Array(),
      timestamp,
      nonce,
    });
    const valid = await verifyEd25519(fromHex(station.public_key), message, fromHex(signature));
    if (!valid) throw refuse('the signature does not match this request and station');
    await this.remember(stationId, nonce, now);
  }

  /** Stores the nonce; throws the replay refusal when it was stored before. */
  private async remember(stationId: string, nonce: string, now: number): Promise<void> {
    const { db } = this.storage;
    try {
      await db
        .insertInto('station_request_nonces')
        .values({
          station_id: stationId,
          nonce,
          expires_at_ms: now + 2 * STATION_SIGNATURE_WINDOW_MS,
        })
        .execute();
    } catch (error) {
      if (isUniqueViolation(error)) throw refuse('this nonce was used before (a replay)');
      throw error;
    }
    if (++this.requestsSinceSweep >= SWEEP_EVERY) {
      this.requestsSinceSweep = 0;
      await db.deleteFrom('station_request_nonces').where('expires_at_ms', '<', now).execute();
    }
  }
}

/**
 * Keeps the raw JSON body for signatures (parsed by Fastify's own JSON parser, same errors), and
 * checks every request of a station session before its body is validated or handled.
 */
export function installStationSignatures(
  app: FastifyInstance,
  verifier: StationRequestVerifier,
): void {
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (request, body, done) => {
    request.rawBody = body as Buffer;
    parseJson(request, (body as Buffer).toString('utf8'), done);
  });
  app.addHook('preValidation', async (request) => {
    const stationId = request.principal?.stationId;
    if (stationId !== undefined) await verifier.verify(request, stationId);
  });
}
