/**
 * Starting the cloud for real (startCloud): a part that cannot start stops the start with a
 * message that names what to change, and leaves nothing open behind it (on PostgreSQL, where a
 * leaked pool would hold server connections).
 */
import { randomBytes } from 'node:crypto';
import { createServer, type AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { startCloud } from '../src/server.js';
import {
  TEST_POSTGRES_URL,
  connectAdmin,
  createScratchSchema,
} from '../src/storage/testing/scratch-schema.js';
import { testConfig } from './helpers.js';

describe('startCloud', () => {
  it('refuses to start when the broker port is taken, naming it, and closes what it opened', async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const port = (blocker.address() as AddressInfo).port;
    const { schema, drop } = await createScratchSchema(TEST_POSTGRES_URL);
    const application = `cloud-start-${randomBytes(6).toString('hex')}`;
    const url = new URL(TEST_POSTGRES_URL);
    url.searchParams.set('application_name', application);
    const config = (mqttPort: number) =>
      testConfig({
        storage: { engine: 'postgres', url: url.toString(), schema },
        http: { host: '127.0.0.1', port: 0 },
        mqtt: { mode: 'embedded', host: '127.0.0.1', port: mqttPort },
      });
    const admin = await connectAdmin(TEST_POSTGRES_URL);
    const connections = async () =>
      Number(
        (
          await admin.query<{ n: string }>(
            'select count(*) as n from pg_stat_activity where application_name = $1',
            [application],
          )
        ).rows[0]!.n,
      );
    const settledConnections = async () => {
      const deadline = Date.now() + 5_000;
      let count = await connections();
      while (count > 0 && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        count = await connections();
      }
      return count;
    };
    try {
      await expect(startCloud(config(port))).rejects.toThrow(
        new RegExp(`cannot listen on 127\\.0\\.0\\.1:${port}`),
      );
      // A closed connection may linger a moment in pg_stat_activity; a leaked pool stays.
      expect(await settledConnections(), 'connections left open by the failed start').toBe(0);

      // The same store and a free port start and stop cleanly.
      const cloud = await startCloud(config(0));
      expect((await fetch(`${cloud.url}/health`)).status).toBe(200);
      expect(await connections()).toBeGreaterThan(0);
      await cloud.close();
      expect(await settledConnections()).toBe(0);
    } finally {
      await new Promise((resolve) => blocker.close(resolve));
      await admin.end();
      await drop();
    }
  });

  it('hands modules the configured module URL, and the embedded broker’s real port without one', async () => {
    const config = (moduleUrl?: string) =>
      testConfig({
        http: { host: '127.0.0.1', port: 0 },
        mqtt: {
          mode: 'embedded',
          host: '127.0.0.1',
          port: 0,
          ...(moduleUrl === undefined ? {} : { moduleUrl }),
        },
      });
    const fronted = await startCloud(config('mqtts://modules.mini-sharing.example:8883'));
    try {
      expect(fronted.context.moduleLinkEndpoint.brokerUrl).toBe(
        'mqtts://modules.mini-sharing.example:8883',
      );
    } finally {
      await fronted.close();
    }
    const plain = await startCloud(config());
    try {
      const port = plain.moduleLink?.brokerPort;
      expect(port).toBeGreaterThan(0);
      expect(plain.context.moduleLinkEndpoint.brokerUrl).toBe(`mqtt://127.0.0.1:${port}`);
    } finally {
      await plain.close();
    }
  });
});
