/**
 * Dealers and their mechanics (the workshop directory), as the seed loads them. Accounts,
 * sign-in and stations come with identity; until then this is the list of who works where, so
 * that later parts have dealers to attach stations and registrations to.
 *
 * Saving is an idempotent upsert by id; a mechanic's e-mail is unique across all dealers (one
 * account per person, whatever the portal), so a file that gives one address to two people is
 * refused whole. An entry with a `password` (development seeds only) also gets a sign-in account
 * with the same id: created with that password when missing, else its name, e-mail, role and
 * dealer follow the directory and its password stays.
 */
import type { Kysely, Transaction } from 'kysely';
import { Type, type Static } from '@sinclair/typebox';
import type { Database } from '../storage/schema.js';
import { isUniqueViolation } from '../storage/storage.js';
import { hashPassword } from '../accounts/passwords.js';

export const WORKSHOP_DIRECTORY_FORMAT = 'mini-sharing/workshop-directory';

const Id = Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$' });

export const MechanicEntrySchema = Type.Object(
  {
    id: Id,
    name: Type.String({ minLength: 1, maxLength: 200 }),
    email: Type.String({ format: 'email', maxLength: 254 }),
    role: Type.Union([Type.Literal('mechanic'), Type.Literal('dealer-admin')]),
    password: Type.Optional(
      Type.String({
        minLength: 12,
        maxLength: 1024,
        description:
          'DEVELOPMENT ONLY: creates the sign-in account with this password when it has none ' +
          '(an existing account keeps its password). Never put real passwords in a seed file.',
      }),
    ),
  },
  { additionalProperties: false },
);

export const DealerEntrySchema = Type.Object(
  {
    id: Id,
    name: Type.String({ minLength: 1, maxLength: 200 }),
    market: Type.String({ pattern: '^[A-Z]{2}$' }),
    mechanics: Type.Array(MechanicEntrySchema),
  },
  { additionalProperties: false },
);

export const WorkshopDirectorySchema = Type.Object(
  {
    format: Type.Literal(WORKSHOP_DIRECTORY_FORMAT),
    version: Type.Literal(1),
    dealers: Type.Array(DealerEntrySchema),
  },
  { additionalProperties: false },
);
export type WorkshopDirectory = Static<typeof WorkshopDirectorySchema>;

/** Problems the schema cannot see: ids and e-mails repeated inside the file. */
export function directoryProblems(directory: WorkshopDirectory): string[] {
  const problems: string[] = [];
  const dealerIds = new Set<string>();
  const mechanicIds = new Map<string, string>();
  const emails = new Map<string, string>();
  directory.dealers.forEach((dealer, d) => {
    if (dealerIds.has(dealer.id))
      problems.push(`dealers[${d}].id: dealer ${dealer.id} appears twice`);
    dealerIds.add(dealer.id);
    dealer.mechanics.forEach((mechanic, m) => {
      const at = `dealers[${d}].mechanics[${m}]`;
      const earlier = mechanicIds.get(mechanic.id);
      if (earlier) problems.push(`${at}.id: ${mechanic.id} is already ${earlier}`);
      mechanicIds.set(mechanic.id, at);
      const email = mechanic.email.toLowerCase();
      const owner = emails.get(email);
      if (owner) problems.push(`${at}.email: ${email} is already the address of ${owner}`);
      emails.set(email, at);
    });
  });
  return problems;
}

export class DirectoryConflict extends Error {
  override readonly name = 'DirectoryConflict';
}

/** Saves the whole directory in one transaction: all of it, or nothing. */
export async function saveWorkshopDirectory(
  db: Kysely<Database>,
  directory: WorkshopDirectory,
  now: Date,
): Promise<{ dealers: number; mechanics: number }> {
  const at = now.toISOString();
  let mechanics = 0;
  // Hashing is slow (scrypt): done before the transaction, only for accounts still missing.
  const withPassword = directory.dealers.flatMap((d) => d.mechanics).filter((m) => m.password);
  const existing = new Set(
    withPassword.length === 0
      ? []
      : (
          await db
            .selectFrom('accounts')
            .select('id')
            .where(
              'id',
              'in',
              withPassword.map((m) => m.id),
            )
            .execute()
        ).map((row) => row.id),
  );
  const hashes = new Map<string, string>();
  for (const mechanic of withPassword) {
    if (!existing.has(mechanic.id)) hashes.set(mechanic.id, await hashPassword(mechanic.password!));
  }
  await db
    .transaction()
    .execute(async (trx) => {
      for (const dealer of directory.dealers) {
        await trx
          .insertInto('dealers')
          .values({
            id: dealer.id,
            name: dealer.name,
            market: dealer.market,
            created_at: at,
            updated_at: at,
          })
          .onConflict((conflict) =>
            conflict.column('id').doUpdateSet((eb) => ({
              name: eb.ref('excluded.name'),
              market: eb.ref('excluded.market'),
              updated_at: eb.ref('excluded.updated_at'),
            })),
          )
          .execute();
        for (const mechanic of dealer.mechanics) {
          await saveMechanic(trx, dealer.id, mechanic, at);
          if (mechanic.password) {
            await saveStaffAccount(trx, dealer, mechanic, hashes.get(mechanic.id), at);
          }
          mechanics++;
        }
      }
    })
    .catch((error: unknown) => {
      // Another writer gave the same e-mail to someone else between our check and our insert.
      if (isUniqueViolation(error)) {
        throw new DirectoryConflict(
          `an e-mail in the directory already belongs to another mechanic`,
          {
            cause: error,
          },
        );
      }
      throw error;
    });
  return { dealers: directory.dealers.length, mechanics };
}

async function saveMechanic(
  trx: Transaction<Database>,
  dealerId: string,
  mechanic: Static<typeof MechanicEntrySchema>,
  at: string,
): Promise<void> {
  const email = mechanic.email.toLowerCase();
  const holder = await trx
    .selectFrom('mechanics')
    .select('id')
    .where('email', '=', email)
    .where('id', '!=', mechanic.id)
    .executeTakeFirst();
  if (holder) {
    throw new DirectoryConflict(
      `mechanic ${mechanic.id}: the e-mail ${email} already belongs to mechanic ${holder.id}`,
    );
  }
  await trx
    .insertInto('mechanics')
    .values({
      id: mechanic.id,
      dealer_id: dealerId,
      name: mechanic.name,
      email,
      role: mechanic.role,
      created_at: at,
      updated_at: at,
    })
    .onConflict((conflict) =>
      conflict.column('id').doUpdateSet((eb) => ({
        dealer_id: eb.ref('excluded.dealer_id'),
        name: eb.ref('excluded.name'),
        email: eb.ref('excluded.email'),
        role: eb.ref('excluded.role'),
        updated_at: eb.ref('excluded.updated_at'),
      })),
    )
    .execute();
}

/** The sign-in account of a directory entry with a (development) password. */
async function saveStaffAccount(
  trx: Transaction<Database>,
  dealer: Static<typeof DealerEntrySchema>,
  mechanic: Static<typeof MechanicEntrySchema>,
  passwordHash: string | undefined,
  at: string,
): Promise<void> {
  const fields = {
    email: mechanic.email.toLowerCase(),
    name: mechanic.name,
    country: dealer.market,
    role: mechanic.role,
    dealer_id: dealer.id,
    updated_at: at,
  };
  if (passwordHash === undefined) {
    await trx.updateTable('accounts').set(fields).where('id', '=', mechanic.id).execute();
    return;
  }
  await trx
    .insertInto('accounts')
    .values({
      id: mechanic.id,
      ...fields,
      password_hash: passwordHash,
      postal_address: null,
      password_changed_at: at,
      created_at: at,
    })
    .onConflict((conflict) => conflict.column('id').doUpdateSet(fields))
    .execute();
}

export async function listDealers(db: Kysely<Database>) {
  return db.selectFrom('dealers').selectAll().orderBy('id').execute();
}

export async function listMechanics(db: Kysely<Database>, dealerId?: string) {
  let query = db.selectFrom('mechanics').selectAll();
  if (dealerId !== undefined) query = query.where('dealer_id', '=', dealerId);
  return query.orderBy('id').execute();
}

export async function countDealers(db: Kysely<Database>): Promise<number> {
  const { count } = await db
    .selectFrom('dealers')
    .select((eb) => eb.fn.countAll().as('count'))
    .executeTakeFirstOrThrow();
  return Number(count);
}
