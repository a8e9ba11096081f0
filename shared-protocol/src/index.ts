export * as framing from './framing/index.js';
export * as messages from './messages/index.js';
export * as session from './session/index.js';
export * as clock from './clock/index.js';
export * as crypto from './crypto/index.js';
export * as trust from './trust/index.js';
export * as firmwareImage from './firmware-image/index.js';
