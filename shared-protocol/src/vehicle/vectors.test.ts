import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { buildVehicleVectors } from './vectors.js';

// Regenerate with `npm run vectors -w shared-protocol`.
const VECTORS = new URL('../../vectors/vehicle.json', import.meta.url);

describe('vectors/vehicle.json', () => {
  it('is exactly what buildVehicleVectors() produces', () => {
    const committed: unknown = JSON.parse(readFileSync(VECTORS, 'utf8'));
    expect(committed).toEqual(JSON.parse(JSON.stringify(buildVehicleVectors())));
  });

  it('is deterministic', () => {
    expect(buildVehicleVectors()).toEqual(buildVehicleVectors());
  });
});
