import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { buildDiagnosticsVectors } from './vectors.js';

// Regenerate with `npm run vectors -w shared-protocol`.
const VECTORS = new URL('../../vectors/diagnostics.json', import.meta.url);

describe('vectors/diagnostics.json', () => {
  it('is exactly what buildDiagnosticsVectors() produces', () => {
    const committed: unknown = JSON.parse(readFileSync(VECTORS, 'utf8'));
    expect(committed).toEqual(JSON.parse(JSON.stringify(buildDiagnosticsVectors())));
  });

  it('is deterministic', () => {
    expect(buildDiagnosticsVectors()).toEqual(buildDiagnosticsVectors());
  });
});
