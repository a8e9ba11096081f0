/**
 * MQTT topics of the module link and the access rule the embedded broker enforces: a module may
 * publish only to its own module-to-cloud topics and subscribe only to its own cloud-to-module
 * topics. See PROTOCOL.md "The module link (MQTT)".
 */

export const TOPIC_PREFIX = 'mini/v1/modules';

/** What travels on a module's topic. */
export type ModuleTopicKind =
  | 'presence'
  | 'telemetry'
  | 'events'
  | 'command-results'
  | 'commands'
  | 'revocation-list'
  | 'booking';

export interface ModuleTopicFacts {
  /** Path after `mini/v1/modules/{serial}/`. */
  path: string;
  direction: 'module-to-cloud' | 'cloud-to-module';
  /** Published with the MQTT retain flag. */
  retained: boolean;
  qos: 0 | 1;
}

export const MODULE_TOPICS = {
  presence: { path: 'presence', direction: 'module-to-cloud', retained: true, qos: 1 },
  telemetry: { path: 'telemetry', direction: 'module-to-cloud', retained: false, qos: 0 },
  events: { path: 'events', direction: 'module-to-cloud', retained: false, qos: 1 },
  'command-results': {
    path: 'command-results',
    direction: 'module-to-cloud',
    retained: false,
    qos: 1,
  },
  commands: { path: 'commands', direction: 'cloud-to-module', retained: false, qos: 1 },
  'revocation-list': {
    path: 'state/revocation-list',
    direction: 'cloud-to-module',
    retained: true,
    qos: 1,
  },
  booking: { path: 'state/booking', direction: 'cloud-to-module', retained: true, qos: 1 },
} as const satisfies Record<ModuleTopicKind, ModuleTopicFacts>;

const KINDS = Object.keys(MODULE_TOPICS) as ModuleTopicKind[];
const KIND_BY_PATH = new Map<string, ModuleTopicKind>(
  KINDS.map((kind) => [MODULE_TOPICS[kind].path, kind]),
);

/**
 * A module serial as it may appear in a topic and as the MQTT client id: 1 to 64 characters of
 * A-Z a-z 0-9 . _ -, starting with a letter or digit. That excludes the MQTT wildcards '+' and
 * '#', the level separator '/', '$' (broker-internal topics) and anything invisible.
 */
export const isValidModuleSerial = (serial: string): boolean =>
  /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(serial);

/** The topic of `kind` for a module. Throws RangeError for an invalid serial. */
export function moduleTopic(serial: string, kind: ModuleTopicKind): string {
  if (!isValidModuleSerial(serial)) throw new RangeError(`not a valid module serial: ${serial}`);
  return `${TOPIC_PREFIX}/${serial}/${MODULE_TOPICS[kind].path}`;
}

/** Every topic of a module, by kind. */
export const moduleTopics = (serial: string): Record<ModuleTopicKind, string> =>
  Object.fromEntries(KINDS.map((kind) => [kind, moduleTopic(serial, kind)])) as Record<
    ModuleTopicKind,
    string
  >;

/** The cloud's subscriptions: every module's module-to-cloud topics. */
export const cloudSubscriptions = (): string[] =>
  KINDS.filter((kind) => MODULE_TOPICS[kind].direction === 'module-to-cloud').map(
    (kind) => `${TOPIC_PREFIX}/+/${MODULE_TOPICS[kind].path}`,
  );

/** Reads a topic name; undefined for anything that is not exactly one of a module's topics. */
export function parseModuleTopic(
  topic: string,
): { serial: string; kind: ModuleTopicKind } | undefined {
  const prefix = `${TOPIC_PREFIX}/`;
  if (typeof topic !== 'string' || !topic.startsWith(prefix)) return undefined;
  const rest = topic.slice(prefix.length);
  const slash = rest.indexOf('/');
  if (slash < 0) return undefined;
  const serial = rest.slice(0, slash);
  const kind = KIND_BY_PATH.get(rest.slice(slash + 1));
  return kind && isValidModuleSerial(serial) ? { serial, kind } : undefined;
}

/** MQTT topic filter syntax: '+' and '#' only as whole levels, '#' only last. No NUL. */
export function isValidTopicFilter(filter: string): boolean {
  if (typeof filter !== 'string' || filter.length === 0 || filter.includes('\0')) return false;
  const levels = filter.split('/');
  return levels.every((level, i) => {
    if (level === '#') return i === levels.length - 1;
    return level === '+' || !(level.includes('+') || level.includes('#'));
  });
}

/** Whether a topic name (no wildcards) matches a filter, by the MQTT 3.1.1 / 5 rules. */
export function topicMatchesFilter(filter: string, topic: string): boolean {
  if (!isValidTopicFilter(filter) || topic.includes('+') || topic.includes('#')) return false;
  const f = filter.split('/');
  const t = topic.split('/');
  // Wildcards in the first level never match topics starting with '$' (broker-internal).
  if (t[0]?.startsWith('$') && (f[0] === '+' || f[0] === '#')) return false;
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '#') return true;
    if (i >= t.length) return false;
    if (f[i] !== '+' && f[i] !== t[i]) return false;
  }
  return f.length === t.length;
}

/** ACL: a module may publish only to its own module-to-cloud topics. */
export function moduleMayPublish(serial: string, topic: string): boolean {
  const parsed = parseModuleTopic(topic);
  return (
    parsed !== undefined &&
    parsed.serial === serial &&
    MODULE_TOPICS[parsed.kind].direction === 'module-to-cloud'
  );
}

/**
 * ACL: a module may subscribe to a filter only if the serial level is its own serial literally
 * (never a wildcard) and every topic of the scheme the filter matches is one of its own
 * cloud-to-module topics. So `…/{serial}/commands` and `…/{serial}/state/#` pass;
 * `#`, `mini/v1/modules/+/commands`, another serial, `…/{serial}/#` (it also matches the
 * module's own reports) and `$share/…` do not.
 */
export function moduleMaySubscribe(serial: string, filter: string): boolean {
  if (!isValidModuleSerial(serial) || !isValidTopicFilter(filter)) return false;
  if (!filter.startsWith(`${TOPIC_PREFIX}/${serial}/`)) return false;
  const matched = KINDS.filter((kind) => topicMatchesFilter(filter, moduleTopic(serial, kind)));
  return (
    matched.length > 0 &&
    matched.every((kind) => MODULE_TOPICS[kind].direction === 'cloud-to-module')
  );
}

/**
 * The MQTT last will a module registers when it connects (the `will` option of an MQTT client):
 * its signed CONNECTION_LOST presence, retained on its presence topic.
 */
export function presenceWill(
  serial: string,
  signedPresence: Uint8Array,
): { topic: string; payload: Uint8Array; qos: 1; retain: true } {
  return { topic: moduleTopic(serial, 'presence'), payload: signedPresence, qos: 1, retain: true };
}
