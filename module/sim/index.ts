// The simulated world, importable by any part's tests and by the simulated workshop.
export * from './serial-line/index.js';
