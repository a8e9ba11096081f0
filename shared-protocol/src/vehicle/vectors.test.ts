import { format, resolveConfig } from 'prettier';
import { describe, expect, it } from 'vitest';
import { buildVehicleVectors } from './vectors.js';

// The committed file, formatted as the repository's Prettier formats it; regenerate with
// `npx vitest run --project shared-protocol src/vehicle/vectors.test.ts -u`.
const VECTORS = '../../vectors/vehicle.json';

describe('vectors/vehicle.json', () => {
  it('is exactly what buildVehicleVectors() produces', async () => {
    const options = await resolveConfig(new URL(VECTORS, import.meta.url));
    const text = await format(JSON.stringify(buildVehicleVectors()), {
      ...options,
      parser: 'json',
    });
    await expect(text).toMatchFileSnapshot(VECTORS);
  });

  it('is deterministic', () => {
    expect(buildVehicleVectors()).toEqual(buildVehicleVectors());
  });
});
