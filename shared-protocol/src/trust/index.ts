// Trust formats: everything the cloud, a module, a phone or a station signs and checks.
// Every verifier returns a Verdict (accept, or a typed reason with words) and never throws.
export * from './verdict.js';
export * from './signed.js';
export * from './key-ring.js';
export * from './digital-key.js';
export * from './module-certificate.js';
export * from './service-authorization.js';
export * from './revocation.js';
export * from './module-link-settings.js';
