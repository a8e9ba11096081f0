import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const packageRoot = join(import.meta.dirname, '..');
const generated = join(packageRoot, 'src/messages/gen');
const scratch: string[] = [];

function generateInto(): string {
  const dir = mkdtempSync(join(tmpdir(), 'proto-gen-'));
  scratch.push(dir);
  execFileSync('npx', ['buf', 'generate', '--output', dir], { cwd: packageRoot, stdio: 'pipe' });
  return join(dir, 'src/messages/gen');
}

function snapshot(dir: string): Record<string, string> {
  const files: Record<string, string> = {};
  const walk = (at: string) => {
    for (const entry of readdirSync(at, { withFileTypes: true })) {
      const path = join(at, entry.name);
      if (entry.isDirectory()) walk(path);
      else files[relative(dir, path)] = readFileSync(path, 'utf8');
    }
  };
  walk(dir);
  return files;
}

afterAll(() => scratch.forEach((dir) => rmSync(dir, { recursive: true, force: true })));

describe('generated message code', () => {
  it('is reproducible and matches what the build generated from proto/', () => {
    const first = snapshot(generateInto());
    const second = snapshot(generateInto());
    expect(Object.keys(first).length).toBeGreaterThanOrEqual(5);
    expect(second).toEqual(first);
    expect(snapshot(generated)).toEqual(first);
  }, 60_000);
});
