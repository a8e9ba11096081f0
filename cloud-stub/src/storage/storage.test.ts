/**
 * The store on both engines: the migrations, and that concurrent writers keep the data
 * consistent (primary keys and unique constraints decide, upserts are idempotent, a transaction
 * that fails leaves nothing behind).
 */
import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { makeImage, releaseSigner } from '../../test/helpers.js';
import { DirectoryConflict, listMechanics, saveWorkshopDirectory } from '../dealers/directory.js';
import { listFirmwareImages, publishFirmwareImage } from '../firmware/catalog.js';
import { findVehicleOrder, saveVehicleOrder } from '../vehicles/orders.js';
import { connectAdmin, describeEngines } from './testing/engines.js';

const now = new Date('2026-06-01T12:00:00Z');
const releaseKeys = [{ publicKey: releaseSigner().publicKey }];
const order = (model: string) => ({
  vin: 'WMW31DH0302S71642',
  model,
  market: 'DE',
  productionDate: '2024-03-12',
  optionCodes: ['5GE', '6AC'],
});

describe('the engine harness', () => {
  it('fails, with how to start PostgreSQL, when PostgreSQL is down', async () => {
    await expect(connectAdmin('postgres://postgres@127.0.0.1:1/test')).rejects.toThrow(
      /PostgreSQL is not reachable at postgres:\/\/postgres@127\.0\.0\.1:1\/test .*this is a failure, not a skip.*pg_ctlcluster/s,
    );
  });
});

describeEngines('storage', (storage) => {
  it('migrates to every table, and a second migration changes nothing', async () => {
    const { db } = storage();
    for (const table of [
      'dealers',
      'mechanics',
      'vehicle_orders',
      'firmware_images',
      'firmware_image_revisions',
      'accounts',
      'sessions',
      'stations',
    ] as const) {
      await expect(db.selectFrom(table).selectAll().execute()).resolves.toEqual([]);
    }
    const { migrateToLatest } = await import('./storage.js');
    await expect(migrateToLatest(storage())).resolves.toEqual([]);
  });

  it('enforces foreign keys (a mechanic needs a dealer)', async () => {
    const { db } = storage();
    await expect(
      db
        .insertInto('mechanics')
        .values({
          id: 'M1',
          dealer_id: 'no such dealer',
          name: 'x',
          email: 'x@example.com',
          role: 'mechanic',
          created_at: '',
          updated_at: '',
        })
        .execute(),
    ).rejects.toThrow();
  });

  it('stores a vehicle order once however often it is saved, and tells new from updated', async () => {
    const { db } = storage();
    expect((await saveVehicleOrder(db, order('MINI Cooper SE'), now)).created).toBe(true);
    expect((await saveVehicleOrder(db, order('MINI Cooper SE'), now)).created).toBe(false);
    expect((await saveVehicleOrder(db, order('MINI Cooper SE Classic'), now)).created).toBe(false);
    expect(await findVehicleOrder(db, 'WMW31DH0302S71642')).toEqual(
      order('MINI Cooper SE Classic'),
    );
    const { count } = await db
      .selectFrom('vehicle_orders')
      .select((eb) => eb.fn.countAll().as('count'))
      .executeTakeFirstOrThrow();
    expect(Number(count)).toBe(1);
  });

  it('keeps one whole vehicle order under 40 concurrent upserts of the same VIN', async () => {
    const { db } = storage();
    const models = Array.from({ length: 40 }, (_, i) => `model ${i}`);
    const results = await Promise.all(
      models.map((model) => saveVehicleOrder(db, order(model), now)),
    );
    expect(results.filter((result) => result.created)).toHaveLength(1);
    const rows = await db.selectFrom('vehicle_orders').selectAll().execute();
    expect(rows).toHaveLength(1);
    // One writer's fields, never a mix.
    expect(models).toContain(rows[0]!.model);
    expect(rows[0]!.option_codes).toBe('5GE,6AC');
  });

  it('lists one firmware image when 20 publish the same image at once', async () => {
    const { db } = storage();
    const bytes = await makeImage({ version: [2, 0, 0] });
    const outcomes = await Promise.all(
      Array.from({ length: 20 }, () =>
        publishFirmwareImage(db, { bytes, releaseNotes: 'notes', releaseKeys, now }),
      ),
    );
    expect(outcomes.filter((o) => o.outcome === 'created')).toHaveLength(1);
    expect(outcomes.filter((o) => o.outcome === 'existing')).toHaveLength(19);
    expect(await db.selectFrom('firmware_images').select('id').execute()).toHaveLength(1);
    expect(await db.selectFrom('firmware_image_revisions').selectAll().execute()).toHaveLength(2);
  });

  it('lets exactly one of several different images for the same version in, leaving no trace of the others', async () => {
    const { db } = storage();
    const images = await Promise.all(
      Array.from({ length: 8 }, (_, i) => makeImage({ version: [3, 0, 0], payload: `build ${i}` })),
    );
    const outcomes = await Promise.all(
      images.map((bytes) =>
        publishFirmwareImage(db, { bytes, releaseNotes: '', releaseKeys, now }),
      ),
    );
    expect(outcomes.filter((o) => o.outcome === 'created')).toHaveLength(1);
    expect(outcomes.filter((o) => o.outcome === 'conflict')).toHaveLength(7);
    const stored = await db.selectFrom('firmware_images').select('id').execute();
    expect(stored).toHaveLength(1);
    const revisions = await db.selectFrom('firmware_image_revisions').selectAll().execute();
    expect(revisions.map((r) => r.image_id)).toEqual([stored[0]!.id, stored[0]!.id]);
    expect(await listFirmwareImages(db, 'HW-C')).toHaveLength(1);
  });

  it('rolls a whole directory back when one e-mail belongs to someone else', async () => {
    const { db } = storage();
    const mechanic = (id: string, email: string) => ({
      id,
      name: id,
      email,
      role: 'mechanic' as const,
    });
    await saveWorkshopDirectory(
      db,
      {
        format: 'mini-sharing/workshop-directory',
        version: 1,
        dealers: [
          {
            id: 'D1',
            name: 'Dealer 1',
            market: 'DE',
            mechanics: [mechanic('M1', 'a@example.com')],
          },
        ],
      },
      now,
    );
    await expect(
      saveWorkshopDirectory(
        db,
        {
          format: 'mini-sharing/workshop-directory',
          version: 1,
          dealers: [
            {
              id: 'D2',
              name: 'Dealer 2',
              market: 'AT',
              mechanics: [mechanic('M2', 'b@example.com')],
            },
            {
              id: 'D3',
              name: 'Dealer 3',
              market: 'AT',
              mechanics: [mechanic('M3', 'A@example.com')],
            },
          ],
        },
        now,
      ),
    ).rejects.toThrow(DirectoryConflict);
    expect((await db.selectFrom('dealers').select('id').execute()).map((d) => d.id)).toEqual([
      'D1',
    ]);
    expect((await listMechanics(db)).map((m) => m.id)).toEqual(['M1']);
  });

  it('keeps e-mails unique when two directories claim one address at once', async () => {
    const { db } = storage();
    const directory = (dealer: string, id: string) => ({
      format: 'mini-sharing/workshop-directory' as const,
      version: 1 as const,
      dealers: [
        {
          id: dealer,
          name: dealer,
          market: 'DE',
          mechanics: [{ id, name: id, email: 'same@example.com', role: 'mechanic' as const }],
        },
      ],
    });
    const results = await Promise.allSettled(
      Array.from({ length: 6 }, (_, i) =>
        saveWorkshopDirectory(db, directory(`D${i}`, `M${i}`), now),
      ),
    );
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    for (const result of results) {
      if (result.status === 'rejected') expect(result.reason).toBeInstanceOf(DirectoryConflict);
    }
    expect(await listMechanics(db)).toHaveLength(1);
    // The winner's dealer only: the losers' transactions left nothing.
    expect(await db.selectFrom('dealers').select('id').execute()).toHaveLength(1);
  });

  it('runs in its own schema on PostgreSQL, WAL with foreign keys on SQLite', async () => {
    const s = storage();
    if (s.engine === 'postgres') {
      const { rows } = await sql<{ schema: string }>`select current_schema() as schema`.execute(
        s.db,
      );
      expect(rows[0]!.schema).toMatch(/^cloud_test_/);
    } else {
      const { rows } = await sql<{ foreign_keys: number }>`pragma foreign_keys`.execute(s.db);
      expect(rows[0]!.foreign_keys).toBe(1);
    }
  });
});
