import { join } from 'node:path';
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';

// shared-protocol must run in a browser too (the workshop app's renderer, the companion): a
// browser bundle of its whole public face fails if anything reaches for Node built-ins.
describe('shared-protocol in a browser', () => {
  it('bundles for the browser without Node built-ins', async () => {
    const result = await build({
      entryPoints: [join(import.meta.dirname, '../src/index.ts')],
      bundle: true,
      platform: 'browser',
      format: 'esm',
      write: false,
      logLevel: 'silent',
    });
    expect(result.errors).toEqual([]);
    const code = new TextDecoder().decode(result.outputFiles[0]?.contents);
    expect(code).not.toMatch(/from ["']node:/);
    expect(code.length).toBeGreaterThan(10_000);
  }, 60_000);
});
