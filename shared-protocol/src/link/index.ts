// The module link (module <-> cloud over MQTT): topics and the broker's access rule, signed
// envelopes both ways with their verifiers, a replay cache, and the payload messages. See
// PROTOCOL.md "The module link (MQTT)". No I/O: the MQTT client and broker live in the parts.
export * from './topics.js';
export * from './envelopes.js';
export * from './replay-cache.js';
export * from './payloads.js';
export { buildLinkVectors, type LinkVectors } from './vectors.js';
