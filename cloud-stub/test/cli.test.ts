/**
 * The command line, as a user runs it: migrate, seed (idempotent; a bad file stores nothing),
 * serve with a graceful stop on SIGTERM, and a clear refusal of a bad configuration.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const PACKAGE_DIR = resolve(import.meta.dirname, '..');
const CLI = ['--import', 'tsx', join(PACKAGE_DIR, 'src', 'cli.ts')];
const FLEET = resolve(PACKAGE_DIR, '..', 'shared-protocol', 'src', 'vehicle', 'example-fleet.json');
const DIRECTORY = join(PACKAGE_DIR, 'seed', 'directory.json');
const cleanEnv = () =>
  Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('CLOUD_STUB_')));

function run(args: string[], env: Record<string, string> = {}) {
  const result = spawnSync(process.execPath, [...CLI, ...args], {
    cwd: PACKAGE_DIR,
    env: { ...cleanEnv(), ...env },
    encoding: 'utf8',
    timeout: 30_000,
  });
  return { status: result.status, out: result.stdout, err: result.stderr };
}

describe('cloud-stub CLI', () => {
  const file = join(mkdtempSync(join(tmpdir(), 'cloud-stub-cli-')), 'cloud.sqlite');

  it('migrates once', () => {
    expect(run(['migrate', '--sqlite-file', file]).out).toContain('applied 0001-workshop-registry');
    expect(run(['migrate', '--sqlite-file', file]).out).toContain(
      'already at the latest migration',
    );
  });

  it('seeds, idempotently, and refuses a bad file without storing anything', () => {
    const first = run(['seed', DIRECTORY, FLEET, '--sqlite-file', file]);
    expect(first.status).toBe(0);
    expect(first.out).toContain('3 dealers, 6 mechanics, vehicle orders 5 new / 0 updated');
    const again = run(['seed', DIRECTORY, FLEET, '--sqlite-file', file]);
    expect(again.out).toContain('vehicle orders 0 new / 5 updated');
    const bad = run(['seed', join(PACKAGE_DIR, 'package.json'), '--sqlite-file', file]);
    expect(bad.status).toBe(1);
    expect(bad.err).toContain('not a seed file');
  });

  it('refuses a bad configuration, naming the variable', () => {
    const result = run(['serve'], { CLOUD_STUB_PORT: 'eighty' });
    expect(result.status).toBe(1);
    expect(result.err).toContain('http.port: must be integer (CLOUD_STUB_PORT)');
  });

  it('prints its usage for an unknown command', () => {
    const result = run(['fly']);
    expect(result.status).toBe(2);
    expect(result.err).toContain('unknown command fly');
  });

  it('serves, and stops gracefully on SIGTERM', async () => {
    const child = spawn(
      process.execPath,
      [...CLI, 'serve', '--no-seed', '--port', '0', '--sqlite-file', file],
      {
        cwd: PACKAGE_DIR,
        // Any free port for the module link's broker: 1884 may be taken by a running cloud.
        env: { ...cleanEnv(), CLOUD_STUB_MQTT_PORT: '0' },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let output = '';
    const url = await new Promise<string>((done, fail) => {
      const timer = setTimeout(() => fail(new Error(`no start within 20 s:\n${output}`)), 20_000);
      child.stdout.on('data', (chunk: Buffer) => {
        output += chunk.toString();
        const match = /cloud-stub serving (http:\/\/[^ ]+) /.exec(output);
        if (match) {
          clearTimeout(timer);
          done(match[1]!);
        }
      });
      child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
      child.on('exit', () => fail(new Error(`exited before serving:\n${output}`)));
    });
    const broker = /modules connect to mqtt:\/\/127\.0\.0\.1:(\d+)/.exec(output);
    expect(broker, output).not.toBeNull();
    const brokerPort = Number(broker![1]);
    expect(brokerPort).toBeGreaterThan(0);
    expect(brokerPort).not.toBe(1884);
    await new Promise<void>((done, fail) => {
      const socket = connect(brokerPort, '127.0.0.1', () => {
        socket.destroy();
        done();
      });
      socket.on('error', fail);
    });
    const health = await fetch(`${url}/health`);
    expect(await health.json()).toEqual({ status: 'ok', checks: { storage: 'ok' } });
    const refused = await fetch(`${url}/v1/vehicles/WMW31DH0302S71642`);
    expect(refused.status).toBe(401);
    const exit = new Promise<number | null>((done) => child.on('exit', (code) => done(code)));
    child.kill('SIGTERM');
    expect(await exit).toBe(0);
    expect(output).toContain('SIGTERM: closing');
  });
});
