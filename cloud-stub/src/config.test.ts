import { describe, expect, it } from 'vitest';
import {
  ConfigError,
  DEFAULT_SQLITE_FILE,
  DEVELOPMENT_KEYS_DIR,
  readReleasePublicKey,
  resolveConfig,
} from './config.js';

describe('configuration', () => {
  it('defaults to the embedded setup: SQLite under .data/, the in-process broker, loopback', () => {
    expect(resolveConfig({}, {})).toEqual({
      storage: { engine: 'sqlite', file: DEFAULT_SQLITE_FILE },
      http: { host: '127.0.0.1', port: 8080, bodyLimitBytes: 65536 },
      mqtt: { mode: 'embedded', host: '127.0.0.1', port: 1884 },
      keysDir: DEVELOPMENT_KEYS_DIR,
      firmware: { releasePublicKeys: [readReleasePublicKey(DEVELOPMENT_KEYS_DIR)] },
      log: { level: 'info' },
      auth: {},
    });
  });

  it('reads the environment, and the caller’s input wins over it', () => {
    const env = {
      CLOUD_STUB_DB_ENGINE: 'postgres',
      CLOUD_STUB_POSTGRES_URL: 'postgres://cloud@db.example:5432/cloud',
      CLOUD_STUB_PORT: '9000',
      CLOUD_STUB_MQTT_URL: 'mqtt://broker.example:1883',
      CLOUD_STUB_LOG_LEVEL: 'warn',
      CLOUD_STUB_TEST_TOKEN_SECRET: 'a secret of sixteen+',
    };
    const config = resolveConfig({ http: { port: 9100 } }, env);
    expect(config.storage).toEqual({
      engine: 'postgres',
      url: 'postgres://cloud@db.example:5432/cloud',
    });
    expect(config.http.port).toBe(9100);
    expect(config.mqtt).toEqual({ mode: 'external', url: 'mqtt://broker.example:1883' });
    expect(config.log.level).toBe('warn');
    expect(config.auth.testTokenSecret).toBe('a secret of sixteen+');
  });

  it('lists every problem at once, with the variable that sets it', () => {
    const attempt = () =>
      resolveConfig(
        {},
        {
          CLOUD_STUB_DB_ENGINE: 'postgres',
          CLOUD_STUB_PORT: 'eighty',
          CLOUD_STUB_LOG_LEVEL: 'loud',
          CLOUD_STUB_TEST_TOKEN_SECRET: 'short',
        },
      );
    expect(attempt).toThrow(ConfigError);
    let message = '';
    try {
      attempt();
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toContain('storage.url: "url" is missing');
    expect(message).toContain('http.port: must be integer (CLOUD_STUB_PORT)');
    expect(message).toMatch(/log\.level: must be one of "fatal", .* \(CLOUD_STUB_LOG_LEVEL\)/);
    expect(message).toContain('(CLOUD_STUB_TEST_TOKEN_SECRET)');
    expect(message).not.toContain('storage.file');
  });

  it('refuses an engine it does not know', () => {
    expect(() => resolveConfig({}, { CLOUD_STUB_DB_ENGINE: 'mysql' })).toThrow(
      /storage: storage.engine must be "sqlite" or "postgres"/,
    );
  });

  it('needs a readable release key to check firmware against', () => {
    expect(() => resolveConfig({ keysDir: '/nonexistent' }, {})).toThrow(
      /cannot read the release key/,
    );
    expect(
      resolveConfig(
        { keysDir: '/nonexistent', firmware: { releasePublicKeys: ['ab'.repeat(32)] } },
        {},
      ).firmware,
    ).toEqual({ releasePublicKeys: ['ab'.repeat(32)] });
  });

  it('says where modules dial, apart from where the cloud connects, and needs it for 0.0.0.0', () => {
    const external = resolveConfig(
      {},
      {
        CLOUD_STUB_MQTT_URL: 'mqtt://broker.internal:1883',
        CLOUD_STUB_MQTT_CLIENT_ID: 'cloud-eu-1',
        CLOUD_STUB_MQTT_MODULE_URL: 'mqtts://modules.mini-sharing.example:8883',
      },
    );
    expect(external.mqtt).toEqual({
      mode: 'external',
      url: 'mqtt://broker.internal:1883',
      clientId: 'cloud-eu-1',
      moduleUrl: 'mqtts://modules.mini-sharing.example:8883',
    });
    expect(() => resolveConfig({}, { CLOUD_STUB_MQTT_HOST: '0.0.0.0' })).toThrow(
      /mqtt\.moduleUrl: the embedded broker listens on every address \(0\.0\.0\.0\).*CLOUD_STUB_MQTT_MODULE_URL/,
    );
    expect(
      resolveConfig(
        {},
        { CLOUD_STUB_MQTT_HOST: '0.0.0.0', CLOUD_STUB_MQTT_MODULE_URL: 'mqtt://10.1.2.3:1884' },
      ).mqtt,
    ).toEqual({
      mode: 'embedded',
      host: '0.0.0.0',
      port: 1884,
      moduleUrl: 'mqtt://10.1.2.3:1884',
    });
    expect(() =>
      resolveConfig({}, { CLOUD_STUB_MQTT_MODULE_URL: 'http://modules.example' }),
    ).toThrow(/mqtt\.moduleUrl: .*\(CLOUD_STUB_MQTT_MODULE_URL\)/);
  });
});
