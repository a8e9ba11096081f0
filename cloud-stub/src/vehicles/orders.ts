/**
 * The vehicle-order registry's queries: what the brand's order system says about each VIN.
 * Saving is an idempotent upsert keyed by VIN, safe under concurrent writers on both engines
 * (the primary key decides; the last writer's fields win, never a mix).
 */
import type { Kysely } from 'kysely';
import type { VehicleOrder } from '@mini-sharing/shared-protocol/api';
import type { Database, VehicleOrderRow } from '../storage/schema.js';

const toVehicleOrder = (row: VehicleOrderRow): VehicleOrder => ({
  vin: row.vin,
  model: row.model,
  market: row.market,
  productionDate: row.production_date,
  optionCodes: row.option_codes === '' ? [] : row.option_codes.split(','),
});

export async function findVehicleOrder(
  db: Kysely<Database>,
  vin: string,
): Promise<VehicleOrder | undefined> {
  const row = await db
    .selectFrom('vehicle_orders')
    .selectAll()
    .where('vin', '=', vin)
    .executeTakeFirst();
  return row === undefined ? undefined : toVehicleOrder(row);
}

/**
 * Stores an order (already normalised: upper-case VIN, sorted option codes). `created` tells a
 * new VIN from a correction of a known one.
 */
export async function saveVehicleOrder(
  db: Kysely<Database>,
  order: VehicleOrder,
  now: Date,
): Promise<{ order: VehicleOrder; created: boolean }> {
  const at = now.toISOString();
  const fields = {
    model: order.model,
    market: order.market,
    production_date: order.productionDate,
    option_codes: order.optionCodes.join(','),
  };
  const inserted = await db
    .insertInto('vehicle_orders')
    .values({ vin: order.vin, ...fields, created_at: at, updated_at: at })
    .onConflict((conflict) => conflict.column('vin').doNothing())
    .returning('vin')
    .executeTakeFirst();
  if (inserted === undefined) {
    await db
      .updateTable('vehicle_orders')
      .set({ ...fields, updated_at: at })
      .where('vin', '=', order.vin)
      .execute();
  }
  return { order, created: inserted !== undefined };
}

export async function countVehicleOrders(db: Kysely<Database>): Promise<number> {
  const { count } = await db
    .selectFrom('vehicle_orders')
    .select((eb) => eb.fn.countAll().as('count'))
    .executeTakeFirstOrThrow();
  return Number(count);
}
