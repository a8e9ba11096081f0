/**
 * The cloud's configuration, checked once at the edge: defaults, then environment variables, then
 * what the caller passes (CLI flags, tests). Anything wrong stops the start with every problem
 * listed, each with the environment variable that sets it.
 *
 * Defaults are the embedded ones: SQLite in cloud-stub/.data/, the in-process MQTT broker, the
 * development keys in build/keys/, port 8080 on loopback.
 */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Type, type Static } from '@sinclair/typebox';
import { checkDocument, formatProblems, type ValidationProblem } from './http/validation.js';

/** cloud-stub/ */
export const PACKAGE_DIR = resolve(import.meta.dirname, '..');
export const DEFAULT_SQLITE_FILE = join(PACKAGE_DIR, '.data', 'cloud.sqlite');
export const DEVELOPMENT_KEYS_DIR = resolve(PACKAGE_DIR, '..', 'build', 'keys');
export const RELEASE_KEY_FILE = 'development-release-key.json';

const Hex32 = Type.String({ pattern: '^[0-9a-f]{64}$' });

const SqliteStorageSchema = Type.Object(
  {
    engine: Type.Literal('sqlite'),
    file: Type.String({ minLength: 1, description: "A file path, or ':memory:'." }),
  },
  { additionalProperties: false },
);
const PostgresStorageSchema = Type.Object(
  {
    engine: Type.Literal('postgres'),
    url: Type.String({ pattern: '^postgres(ql)?://' }),
    schema: Type.Optional(Type.String({ pattern: '^[a-z_][a-z0-9_]{0,62}$' })),
    poolSize: Type.Optional(Type.Integer({ minimum: 1, maximum: 100 })),
  },
  { additionalProperties: false },
);
const BrokerUrlSchema = Type.String({ pattern: '^(mqtts?|wss?)://[^/?#\\s]+' });
/**
 * What modules are told to dial (their module-link settings), when it is not the address the
 * cloud itself connects to: a public or TLS address in front of the broker. Default: the
 * embedded broker's mqtt://host:port, or the external URL.
 */
const ModuleUrlSchema = Type.Optional(BrokerUrlSchema);
/** The shapes of module-link/config.ts's broker settings (plus moduleUrl, see the plugin). */
const EmbeddedBrokerSchema = Type.Object(
  {
    mode: Type.Literal('embedded'),
    host: Type.String({ minLength: 1 }),
    port: Type.Integer({ minimum: 0, maximum: 65535 }),
    moduleUrl: ModuleUrlSchema,
  },
  { additionalProperties: false },
);
const ExternalBrokerSchema = Type.Object(
  {
    mode: Type.Literal('external'),
    url: BrokerUrlSchema,
    username: Type.Optional(Type.String()),
    password: Type.Optional(Type.String()),
    /** The cloud's client id there; two clouds on one broker need two. */
    clientId: Type.Optional(Type.String({ minLength: 1 })),
    moduleUrl: ModuleUrlSchema,
  },
  { additionalProperties: false },
);

export const CloudConfigSchema = Type.Object(
  {
    storage: Type.Union([SqliteStorageSchema, PostgresStorageSchema]),
    http: Type.Object(
      {
        host: Type.String({ minLength: 1 }),
        port: Type.Integer({ minimum: 0, maximum: 65535 }),
        /** Default body limit; a route may set its own (firmware publishing does). */
        bodyLimitBytes: Type.Integer({ minimum: 1024, maximum: 64 * 1024 * 1024 }),
      },
      { additionalProperties: false },
    ),
    /**
     * The module link's broker: `embedded` runs aedes in-process on host:port (1884 by default:
     * 1883 is Mosquitto's on these machines), `external` connects to any MQTT broker by URL.
     */
    mqtt: Type.Union([EmbeddedBrokerSchema, ExternalBrokerSchema]),
    /** Folder of the cloud's key files (the development keys by default). */
    keysDir: Type.String({ minLength: 1 }),
    firmware: Type.Object(
      {
        /** Release public keys (hex) a firmware image must be signed with to enter the catalog. */
        releasePublicKeys: Type.Array(Hex32, { minItems: 1 }),
      },
      { additionalProperties: false },
    ),
    log: Type.Object(
      {
        level: Type.Union(
          ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((l) =>
            Type.Literal(l),
          ),
        ),
      },
      { additionalProperties: false },
    ),
    auth: Type.Object(
      {
        /**
         * Accept test tokens signed with this secret (tests and local development only; see
         * src/http/test-tokens.ts). Absent in production: only access tokens from sign-in.
         */
        testTokenSecret: Type.Optional(Type.String({ minLength: 16 })),
      },
      { additionalProperties: false },
    ),
  },
  { additionalProperties: false },
);

export type CloudConfig = Static<typeof CloudConfigSchema>;

/** Any part of the configuration; the rest comes from the environment and the defaults. */
export type CloudConfigInput = {
  [K in keyof CloudConfig]?: CloudConfig[K] extends object
    ? Partial<CloudConfig[K]> | CloudConfig[K]
    : CloudConfig[K];
};

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/** Environment variable per config path, for error messages and the README. */
export const CONFIG_ENV = {
  'storage.engine': 'CLOUD_STUB_DB_ENGINE',
  'storage.file': 'CLOUD_STUB_SQLITE_FILE',
  'storage.url': 'CLOUD_STUB_POSTGRES_URL',
  'storage.schema': 'CLOUD_STUB_POSTGRES_SCHEMA',
  'http.host': 'CLOUD_STUB_HOST',
  'http.port': 'CLOUD_STUB_PORT',
  'mqtt.url': 'CLOUD_STUB_MQTT_URL',
  'mqtt.username': 'CLOUD_STUB_MQTT_USERNAME',
  'mqtt.password': 'CLOUD_STUB_MQTT_PASSWORD',
  'mqtt.port': 'CLOUD_STUB_MQTT_PORT',
  'mqtt.host': 'CLOUD_STUB_MQTT_HOST',
  'mqtt.clientId': 'CLOUD_STUB_MQTT_CLIENT_ID',
  'mqtt.moduleUrl': 'CLOUD_STUB_MQTT_MODULE_URL',
  keysDir: 'CLOUD_STUB_KEYS_DIR',
  'log.level': 'CLOUD_STUB_LOG_LEVEL',
  'auth.testTokenSecret': 'CLOUD_STUB_TEST_TOKEN_SECRET',
} as const;

type Env = Readonly<Record<string, string | undefined>>;

/** Listening addresses that are no address to dial. */
const UNSPECIFIED_HOSTS = new Set(['0.0.0.0', '::', '[::]']);

const numberOr = (text: string | undefined): number | string | undefined => {
  if (text === undefined || text.trim() === '') return text;
  return /^\d+$/.test(text.trim()) ? Number(text) : text;
};

function defined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** The development release public key from a keys folder (never its seed). */
export function readReleasePublicKey(keysDir: string): string {
  const path = join(keysDir, RELEASE_KEY_FILE);
  let document: unknown;
  try {
    document = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new ConfigError(
      `cannot read the release key ${path}: ${error instanceof Error ? error.message : String(error)} ` +
        `(set ${CONFIG_ENV.keysDir}, or firmware.releasePublicKeys)`,
    );
  }
  const publicKey = (document as { publicKey?: unknown } | null)?.publicKey;
  if (typeof publicKey !== 'string') throw new ConfigError(`${path} has no publicKey`);
  return publicKey.toLowerCase();
}

/**
 * A union's errors list every branch's complaints; say only those of the branch the document
 * chose (its engine, its broker kind).
 */
function unionProblemsByBranch(
  problems: readonly ValidationProblem[],
  candidate: { storage: { engine?: unknown }; mqtt: { mode?: unknown } },
): ValidationProblem[] {
  const branches = [
    {
      path: 'storage',
      value: candidate.storage,
      schema:
        candidate.storage.engine === 'postgres'
          ? PostgresStorageSchema
          : candidate.storage.engine === 'sqlite'
            ? SqliteStorageSchema
            : undefined,
      choice: 'storage.engine must be "sqlite" or "postgres"',
    },
    {
      path: 'mqtt',
      value: candidate.mqtt,
      schema:
        candidate.mqtt.mode === 'embedded'
          ? EmbeddedBrokerSchema
          : candidate.mqtt.mode === 'external'
            ? ExternalBrokerSchema
            : undefined,
      choice: 'mqtt.mode must be "embedded" or "external"',
    },
  ];
  const kept = problems.filter(
    (problem) =>
      !branches.some(
        (branch) => problem.path === branch.path || problem.path.startsWith(`${branch.path}.`),
      ),
  );
  for (const branch of branches) {
    if (!problems.some((p) => p.path === branch.path || p.path.startsWith(`${branch.path}.`)))
      continue;
    if (branch.schema === undefined) {
      kept.push({ path: branch.path, message: branch.choice, keyword: 'enum' });
      continue;
    }
    const own = checkDocument(branch.schema, branch.value, branch.path);
    if (!own.ok) kept.push(...own.problems);
  }
  return kept;
}

/**
 * The configuration from defaults, `env` and `input` (later wins), validated. Throws a
 * ConfigError listing every problem.
 */
export function resolveConfig(input: CloudConfigInput = {}, env: Env = process.env): CloudConfig {
  const engine = input.storage?.engine ?? env.CLOUD_STUB_DB_ENGINE ?? 'sqlite';
  const storage =
    engine === 'postgres'
      ? {
          engine,
          ...defined({
            url: env.CLOUD_STUB_POSTGRES_URL,
            schema: env.CLOUD_STUB_POSTGRES_SCHEMA,
          }),
          ...(input.storage?.engine === 'postgres' ? input.storage : {}),
        }
      : {
          engine,
          file: env.CLOUD_STUB_SQLITE_FILE ?? DEFAULT_SQLITE_FILE,
          ...(input.storage?.engine === 'sqlite' ? input.storage : {}),
        };
  const mqttUrl = env.CLOUD_STUB_MQTT_URL;
  const mqtt =
    input.mqtt ??
    (mqttUrl
      ? {
          mode: 'external',
          url: mqttUrl,
          ...defined({
            username: env.CLOUD_STUB_MQTT_USERNAME,
            password: env.CLOUD_STUB_MQTT_PASSWORD,
            clientId: env.CLOUD_STUB_MQTT_CLIENT_ID,
            moduleUrl: env.CLOUD_STUB_MQTT_MODULE_URL,
          }),
        }
      : {
          mode: 'embedded',
          host: env.CLOUD_STUB_MQTT_HOST ?? '127.0.0.1',
          port: numberOr(env.CLOUD_STUB_MQTT_PORT) ?? 1884,
          ...defined({ moduleUrl: env.CLOUD_STUB_MQTT_MODULE_URL }),
        });
  const keysDir = input.keysDir ?? env.CLOUD_STUB_KEYS_DIR ?? DEVELOPMENT_KEYS_DIR;
  const testTokenSecret = input.auth?.testTokenSecret ?? env.CLOUD_STUB_TEST_TOKEN_SECRET;
  const candidate = {
    storage,
    http: {
      host: env.CLOUD_STUB_HOST ?? '127.0.0.1',
      port: numberOr(env.CLOUD_STUB_PORT) ?? 8080,
      bodyLimitBytes: 64 * 1024,
      ...input.http,
    },
    mqtt,
    keysDir,
    firmware: {
      releasePublicKeys: input.firmware?.releasePublicKeys ?? [readReleasePublicKey(keysDir)],
    },
    log: { level: env.CLOUD_STUB_LOG_LEVEL ?? 'info', ...input.log },
    auth: testTokenSecret === undefined ? {} : { testTokenSecret },
  };
  const checked = checkDocument(CloudConfigSchema, candidate);
  if (checked.ok) {
    const { mqtt: broker } = checked.value;
    if (broker.mode === 'embedded' && UNSPECIFIED_HOSTS.has(broker.host) && !broker.moduleUrl) {
      throw new ConfigError(
        `the cloud's configuration is not valid:\nmqtt.moduleUrl: the embedded broker listens on ` +
          `every address (${broker.host}), so say which one modules dial, e.g. ` +
          `mqtt://cloud.example:${broker.port} (${CONFIG_ENV['mqtt.moduleUrl']})`,
      );
    }
  }
  if (!checked.ok) {
    const hinted = unionProblemsByBranch(checked.problems, candidate).map((problem) => {
      const variable = Object.entries(CONFIG_ENV).find(([path]) =>
        problem.path.startsWith(path),
      )?.[1];
      return variable ? { ...problem, message: `${problem.message} (${variable})` } : problem;
    });
    throw new ConfigError(`the cloud's configuration is not valid:\n${formatProblems(hinted)}`);
  }
  return checked.value;
}
