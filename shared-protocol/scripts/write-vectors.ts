/**
 * Writes every vectors/*.json from the code that defines the formats (`npm run vectors -w
 * shared-protocol`). Each folder's vectors test fails when its committed file drifts.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildTrustVectors } from '../src/trust/vectors.js';

const out = join(import.meta.dirname, '..', 'vectors');
const write = (name: string, value: unknown) =>
  writeFileSync(join(out, name), `${JSON.stringify(value, null, 2)}\n`);

write('trust.json', await buildTrustVectors());
console.log('wrote vectors/trust.json');
