/**
 * Writes every vectors/*.json from the code that defines the formats (`npm run vectors -w
 * shared-protocol`), formatted with the repository's Prettier settings. Each folder's vectors test
 * fails when its committed file drifts from what its builder produces.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { format, resolveConfig } from 'prettier';
import { buildDiagnosticsVectors } from '../src/diagnostics/vectors.js';
import { buildFirmwareImageVectors } from '../src/firmware-image/vectors.js';
import { buildGattVectors } from '../src/gatt/vectors.js';
import { buildLinkVectors } from '../src/link/vectors.js';
import { buildTrustVectors } from '../src/trust/vectors.js';
import { buildVehicleVectors } from '../src/vehicle/vectors.js';

const out = join(import.meta.dirname, '..', 'vectors');
const builders: Record<string, () => unknown> = {
  'trust.json': buildTrustVectors,
  'firmware-image.json': buildFirmwareImageVectors,
  'vehicle.json': buildVehicleVectors,
  'diagnostics.json': buildDiagnosticsVectors,
  'gatt.json': buildGattVectors,
  'link.json': buildLinkVectors,
};

for (const [name, build] of Object.entries(builders)) {
  const path = join(out, name);
  const options = { ...(await resolveConfig(path)), filepath: path };
  writeFileSync(path, await format(JSON.stringify(await build(), null, 2), options));
  console.log(`wrote vectors/${name}`);
}
