import { defineConfig } from 'vitest/config';

// One run for the whole suite; each workspace is its own project so a part can be tested alone
// (`npx vitest run --project module`).
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'shared-protocol',
          root: './shared-protocol',
          include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
          environment: 'node',
        },
      },
      {
        test: {
          name: 'module',
          root: './module',
          include: ['src/**/*.test.ts', 'sim/**/*.test.ts', 'test/**/*.test.ts'],
          environment: 'node',
          testTimeout: 30_000,
        },
      },
      {
        test: {
          name: 'cloud-stub',
          root: './cloud-stub',
          include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
          environment: 'node',
          // Storage tests also run on PostgreSQL (a schema per file) and build signed images.
          testTimeout: 30_000,
          hookTimeout: 30_000,
        },
      },
    ],
  },
});
