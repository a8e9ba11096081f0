/** Seeding on both engines: idempotent, and a bad file stores nothing. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { beforeAll, expect, it } from 'vitest';
import { makeImage, releaseSigner, strangerSigner } from '../../test/helpers.js';
import { PACKAGE_DIR } from '../config.js';
import { listDealers, listMechanics } from '../dealers/directory.js';
import { listFirmwareImages } from '../firmware/catalog.js';
import { describeEngines } from '../storage/testing/engines.js';
import { countVehicleOrders, findVehicleOrder } from '../vehicles/orders.js';
import { DEFAULT_DIRECTORY_FILE, seedDefaultsIfEmpty, storeIsEmpty } from './defaults.js';
import { seedFromFiles } from './seed.js';
import { SeedFileError } from './seed-files.js';

const EXAMPLE_FLEET_FILE = resolve(
  PACKAGE_DIR,
  '..',
  'shared-protocol',
  'src',
  'vehicle',
  'example-fleet.json',
);
const options = {
  releaseKeys: [{ publicKey: releaseSigner().publicKey }],
  now: () => new Date('2026-06-01T00:00:00Z'),
};

let dir: string;
let catalogFile: string;
let foreignCatalogFile: string;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'cloud-stub-seed-'));
  writeFileSync(join(dir, 'a.msfw'), await makeImage({ version: [1, 0, 0] }));
  writeFileSync(
    join(dir, 'b.msfw'),
    await makeImage({ version: [1, 1, 0], hardwareRevisions: ['HW-C'] }),
  );
  writeFileSync(
    join(dir, 'foreign.msfw'),
    await makeImage({ version: [6, 6, 6], signer: strangerSigner() }),
  );
  catalogFile = join(dir, 'catalog.json');
  const catalog = (files: string[]) =>
    JSON.stringify({
      format: 'mini-sharing/firmware-catalog',
      version: 1,
      images: files.map((file) => ({ file, releaseNotes: `notes for ${file}` })),
    });
  writeFileSync(catalogFile, catalog(['a.msfw', 'b.msfw']));
  foreignCatalogFile = join(dir, 'foreign-catalog.json');
  writeFileSync(foreignCatalogFile, catalog(['a.msfw', 'foreign.msfw']));
});

describeEngines('seed', (storage) => {
  it('loads dealers, mechanics, vehicle orders and firmware, and loading again changes nothing', async () => {
    const { db } = storage();
    const files = [DEFAULT_DIRECTORY_FILE, EXAMPLE_FLEET_FILE, catalogFile];
    const first = await seedFromFiles(db, files, options);
    expect(first).toEqual({
      dealers: 3,
      mechanics: 6,
      vehicleOrders: { created: 5, updated: 0 },
      firmwareImages: { created: 2, existing: 0 },
    });
    const snapshot = async () => ({
      dealers: await listDealers(db),
      mechanics: await listMechanics(db),
      orders: await db.selectFrom('vehicle_orders').selectAll().orderBy('vin').execute(),
      firmware: await listFirmwareImages(db),
    });
    const before = await snapshot();
    const second = await seedFromFiles(db, files, options);
    expect(second).toMatchObject({
      vehicleOrders: { created: 0, updated: 5 },
      firmwareImages: { created: 0, existing: 2 },
    });
    const after = await snapshot();
    expect(after.mechanics.map((m) => [m.id, m.dealer_id, m.email, m.role])).toEqual(
      before.mechanics.map((m) => [m.id, m.dealer_id, m.email, m.role]),
    );
    expect(after.orders.map(({ updated_at: _u, ...o }) => o)).toEqual(
      before.orders.map(({ updated_at: _u, ...o }) => o),
    );
    expect(after.firmware).toEqual(before.firmware);
    expect(await findVehicleOrder(db, 'WMW31DH0302S71642')).toMatchObject({
      optionCodes: ['2VB', '534', '5GE', '6AC'],
    });
    expect((await listMechanics(db, 'DLR-DE-MUC-01')).map((m) => m.role).sort()).toEqual([
      'dealer-admin',
      'mechanic',
      'mechanic',
    ]);
    expect((await listFirmwareImages(db, 'HW-B')).map((i) => i.version)).toEqual(['1.0.0']);
  });

  it('stores nothing when one file is bad: a broken fleet, a foreign image, an unknown file', async () => {
    const { db } = storage();
    const brokenFleet = join(dir, 'broken-fleet.json');
    writeFileSync(
      brokenFleet,
      JSON.stringify({ version: 1, vehicles: [{ vin: 'WMW31DH0302S7164' }] }),
    );
    await expect(
      seedFromFiles(db, [DEFAULT_DIRECTORY_FILE, brokenFleet, catalogFile], options),
    ).rejects.toThrow(
      /broken-fleet\.json:\n[\s\S]*vehicles\[0\]\.vin: must have 17 characters, has 16/,
    );
    await expect(
      seedFromFiles(db, [DEFAULT_DIRECTORY_FILE, EXAMPLE_FLEET_FILE, foreignCatalogFile], options),
    ).rejects.toThrow(
      /foreign\.msfw: This image is signed with key [0-9a-f]+, which this module does not trust/,
    );
    const stranger = join(dir, 'stranger.json');
    writeFileSync(stranger, '{"hello": "world"}');
    await expect(seedFromFiles(db, [stranger], options)).rejects.toThrow(SeedFileError);
    const badDirectory = join(dir, 'bad-directory.json');
    writeFileSync(
      badDirectory,
      JSON.stringify({
        format: 'mini-sharing/workshop-directory',
        version: 1,
        dealers: [{ id: 'D1', name: 'x', market: 'de', mechanics: [], extra: 1 }],
      }),
    );
    await expect(seedFromFiles(db, [badDirectory], options)).rejects.toThrow(
      /dealers\[0\]\.market: must match pattern[\s\S]*dealers\[0\]\.extra: unknown field "extra"|dealers\[0\]\.extra: unknown field "extra"[\s\S]*dealers\[0\]\.market/,
    );
    expect(await storeIsEmpty(storage())).toBe(true);
  });

  it('seeds the defaults into an empty store only', async () => {
    const report = await seedDefaultsIfEmpty(storage(), options);
    expect(report).toMatchObject({ dealers: 3, mechanics: 6, vehicleOrders: { created: 5 } });
    expect(report?.firmwareImages.created).toBeGreaterThanOrEqual(2);
    expect(await countVehicleOrders(storage().db)).toBe(5);
    expect(await seedDefaultsIfEmpty(storage(), options)).toBeUndefined();
  });
});
