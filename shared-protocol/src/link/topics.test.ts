import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  MODULE_TOPICS,
  cloudSubscriptions,
  isValidModuleSerial,
  moduleMayPublish,
  moduleMaySubscribe,
  moduleTopic,
  moduleTopics,
  parseModuleTopic,
  presenceWill,
  topicMatchesFilter,
  type ModuleTopicKind,
} from './topics.js';

const ME = 'MSM-2501-000123';
const OTHER = 'MSM-2501-000124';
const KINDS = Object.keys(MODULE_TOPICS) as ModuleTopicKind[];
const serialArb = fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/);

describe('topics', () => {
  it('builds one topic per kind under the module serial', () => {
    expect(moduleTopics(ME)).toEqual({
      presence: `mini/v1/modules/${ME}/presence`,
      telemetry: `mini/v1/modules/${ME}/telemetry`,
      events: `mini/v1/modules/${ME}/events`,
      'command-results': `mini/v1/modules/${ME}/command-results`,
      commands: `mini/v1/modules/${ME}/commands`,
      'revocation-list': `mini/v1/modules/${ME}/state/revocation-list`,
      booking: `mini/v1/modules/${ME}/state/booking`,
    });
    expect(KINDS.filter((kind) => MODULE_TOPICS[kind].retained)).toEqual([
      'presence',
      'revocation-list',
      'booking',
    ]);
  });

  it('parses every topic it builds back to serial and kind', () => {
    fc.assert(
      fc.property(serialArb, fc.constantFrom(...KINDS), (serial, kind) => {
        expect(parseModuleTopic(moduleTopic(serial, kind))).toEqual({ serial, kind });
      }),
    );
  });

  it('rejects serials with MQTT specials and topics outside the scheme', () => {
    for (const serial of [
      '',
      '+',
      '#',
      'a/b',
      'a+b',
      'ab#',
      '$SYS',
      ' x',
      'x\0',
      'ü',
      'a'.repeat(65),
    ]) {
      expect(isValidModuleSerial(serial), JSON.stringify(serial)).toBe(false);
      expect(() => moduleTopic(serial, 'commands')).toThrow(RangeError);
    }
    for (const topic of [
      `mini/v1/modules/${ME}`,
      `mini/v1/modules/${ME}/`,
      `mini/v1/modules/${ME}/state`,
      `mini/v1/modules/${ME}/telemetry/x`,
      `mini/v1/modules/+/telemetry`,
      `mini/v1/modules//telemetry`,
      `mini/v2/modules/${ME}/telemetry`,
      `/mini/v1/modules/${ME}/telemetry`,
      `mini/v1/modules/${ME}/Telemetry`,
    ]) {
      expect(parseModuleTopic(topic), topic).toBeUndefined();
    }
  });

  it('parsing never throws', () => {
    fc.assert(fc.property(fc.string(), (topic) => void parseModuleTopic(topic)));
  });

  it('matches filters by the MQTT rules', () => {
    expect(topicMatchesFilter('a/+/c', 'a/b/c')).toBe(true);
    expect(topicMatchesFilter('a/#', 'a')).toBe(true);
    expect(topicMatchesFilter('a/#', 'a/b/c')).toBe(true);
    expect(topicMatchesFilter('a/+', 'a/b/c')).toBe(false);
    expect(topicMatchesFilter('#', '$SYS/x')).toBe(false);
    expect(topicMatchesFilter('a/b#', 'a/b#')).toBe(false); // invalid filter
    expect(topicMatchesFilter('#/a', 'x/a')).toBe(false); // invalid filter
  });

  it('the cloud subscribes to every module’s reports', () => {
    expect(cloudSubscriptions()).toEqual([
      'mini/v1/modules/+/presence',
      'mini/v1/modules/+/telemetry',
      'mini/v1/modules/+/events',
      'mini/v1/modules/+/command-results',
    ]);
  });

  it('the last will is the retained presence topic', () => {
    const payload = new Uint8Array([1, 2]);
    expect(presenceWill(ME, payload)).toEqual({
      topic: `mini/v1/modules/${ME}/presence`,
      payload,
      qos: 1,
      retain: true,
    });
  });
});

describe('ACL', () => {
  it('a module publishes only its own reports', () => {
    for (const kind of KINDS) {
      const own = moduleTopic(ME, kind);
      expect(moduleMayPublish(ME, own), kind).toBe(
        MODULE_TOPICS[kind].direction === 'module-to-cloud',
      );
      expect(moduleMayPublish(ME, moduleTopic(OTHER, kind)), kind).toBe(false);
    }
    expect(moduleMayPublish(ME, `mini/v1/modules/${ME}/state/booking`)).toBe(false);
    expect(moduleMayPublish(ME, `mini/v1/modules/${ME}/telemetry/x`)).toBe(false);
    expect(moduleMayPublish(ME, `mini/v1/modules/+/telemetry`)).toBe(false);
    expect(moduleMayPublish(ME, `mini/v1/modules/${ME}/#`)).toBe(false);
  });

  it('a module subscribes only to its own commands and state', () => {
    for (const allowed of [
      `mini/v1/modules/${ME}/commands`,
      `mini/v1/modules/${ME}/state/revocation-list`,
      `mini/v1/modules/${ME}/state/booking`,
      `mini/v1/modules/${ME}/state/+`,
      `mini/v1/modules/${ME}/state/#`,
    ]) {
      expect(moduleMaySubscribe(ME, allowed), allowed).toBe(true);
    }
    for (const refused of [
      '#',
      '+/#',
      'mini/#',
      'mini/v1/modules/#',
      'mini/v1/modules/+/commands',
      'mini/v1/modules/+/#',
      'mini/v1/modules/+/state/booking',
      `mini/v1/modules/${OTHER}/commands`,
      `mini/v1/modules/${OTHER}/#`,
      `mini/v1/modules/${ME}/#`, // also matches its own reports
      `mini/v1/modules/${ME}/+`,
      `mini/v1/modules/${ME}/telemetry`,
      `mini/v1/modules/${ME}/presence`,
      `mini/v1/modules/${ME}/nothing`,
      `mini/v1/modules/${ME}/state/b#`,
      `$share/group/mini/v1/modules/${ME}/commands`,
      '$SYS/#',
      '',
    ]) {
      expect(moduleMaySubscribe(ME, refused), refused).toBe(false);
    }
  });

  it('no filter a module may use reaches another module’s topic', () => {
    const levels = fc.constantFrom(
      'mini',
      'v1',
      'modules',
      ME,
      OTHER,
      'commands',
      'state',
      'booking',
      '+',
      '#',
    );
    fc.assert(
      fc.property(fc.array(levels, { minLength: 1, maxLength: 6 }), (parts) => {
        const filter = parts.join('/');
        if (!moduleMaySubscribe(ME, filter)) return;
        for (const kind of KINDS) {
          expect(topicMatchesFilter(filter, moduleTopic(OTHER, kind))).toBe(false);
          if (MODULE_TOPICS[kind].direction === 'module-to-cloud') {
            expect(topicMatchesFilter(filter, moduleTopic(ME, kind))).toBe(false);
          }
        }
      }),
      { numRuns: 2000 },
    );
  });
});
