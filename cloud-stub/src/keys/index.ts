// The cloud's keys: root and signing keys (key files, a key store, rotation), everything the
// cloud signs, and modules' MQTT credentials. Wrappers over shared-protocol's trust/ and link/.
export * from './key-files.js';
export * from './key-store.js';
export * from './cloud-keys.js';
export * from './module-credentials.js';
