// The cloud's module link (PROTOCOL.md 16): the embedded MQTT broker with the module ACL, the
// cloud's MQTT client (any broker), report intake and publishing. Start with startModuleLink.
export * from './config.js';
export * from './directory.js';
export * from './reports.js';
export * from './log.js';
export { startEmbeddedBroker, type EmbeddedBroker, type BrokerRefusals } from './broker.js';
export {
  takeModuleMessage,
  ModuleReplayMemory,
  type DropReason,
  type IntakeResult,
} from './intake.js';
export * from './module-link.js';
export * from './db-stores.js';
export * from './plugin.js';
