import { format, resolveConfig } from 'prettier';
import { describe, expect, it } from 'vitest';
import { buildDiagnosticsVectors } from './vectors.js';

// The committed file, formatted as the repository's Prettier formats it; regenerate with
// `npx vitest run --project shared-protocol src/diagnostics/vectors.test.ts -u`.
const VECTORS = '../../vectors/diagnostics.json';

describe('vectors/diagnostics.json', () => {
  it('is exactly what buildDiagnosticsVectors() produces', async () => {
    const options = await resolveConfig(new URL(VECTORS, import.meta.url));
    const json = JSON.stringify(buildDiagnosticsVectors());
    await expect(await format(json, { ...options, parser: 'json' })).toMatchFileSnapshot(VECTORS);
  });

  it('is deterministic', () => {
    expect(buildDiagnosticsVectors()).toEqual(buildDiagnosticsVectors());
  });
});
