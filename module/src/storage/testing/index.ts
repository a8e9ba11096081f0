// Test support for storage: a simulated flash that forgets unsynced writes, power cuts at any
// mutating step, and the sweep that cuts at every step of an operation. Tests only.
export type { CutEveryStepOptions, CutPoint } from './cut-every-step.js';
export { DEFAULT_OUTCOMES, cutAtEveryStep, describeCut } from './cut-every-step.js';
export { CuttingFileOps, PowerCut } from './power-cut.js';
export type { PowerCutOutcome } from './simulated-flash.js';
export { SimulatedFlash } from './simulated-flash.js';
export { collect, identityOf, testImage } from './images.js';
