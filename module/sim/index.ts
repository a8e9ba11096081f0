// The simulated world, importable by any part's tests and by the simulated workshop.
export * from './serial-line/index.js';
export * from './vehicle/index.js';
export * from './module/simulated-module.js';
export * from './module/fleet-runner.js';
export * from './ble-air/index.js';
export * from './module/commands.js';
export * from './module/module-rig.js';
export * from './module/cloud-link-harness.js';
