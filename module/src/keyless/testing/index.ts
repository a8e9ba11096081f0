// Test support for keyless access: keys per role, a provisioned identity, a manual module clock,
// an in-process car, the phone's side of the key link (in process or on a real noble central).
// Tests and benchmarks only.
export * from './fixtures.js';
export { ManualModuleClock } from './manual-module-clock.js';
export { FakeVehicle, type Actuation } from './fake-vehicle.js';
export {
  KeyLinkClient,
  inProcessTransport,
  type CommandOptions,
  type KeyLinkTransport,
  type PhoneCounters,
} from './key-link-client.js';
export { TestPhone, type FoundCar, type PhoneConnection } from './test-phone.js';
