// Cryptographic primitives the trust formats build on. No I/O; runs in Node and browsers.
export * from './bytes.js';
export * from './ed25519.js';
export * from './hash.js';
