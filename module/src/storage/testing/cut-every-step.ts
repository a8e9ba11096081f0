/**
 * The power-cut sweep: measure how many mutating steps an operation takes, then for every k from
 * 0 to that count run it again from the same starting flash with the power cut after k steps,
 * bring the power back under each outcome, and let the test check what survived.
 */
import type { FileOps } from '../file-ops.js';
import { CuttingFileOps, PowerCut } from './power-cut.js';
import type { PowerCutOutcome, SimulatedFlash } from './simulated-flash.js';

export interface CutPoint {
  /** Steps taken before the cut. */
  readonly afterSteps: number;
  readonly totalSteps: number;
  /** The operation resolved before the cut: its effect must have survived. */
  readonly acknowledged: boolean;
  readonly outcome: PowerCutOutcome;
  /** The steps that were taken, for failure messages. */
  readonly trace: readonly string[];
}

export interface CutEveryStepOptions<Store> {
  /** The flash before the operation; cloned for every run. */
  readonly base: SimulatedFlash;
  /** Opens the store on the (not yet armed) cutting FileOps: opening is not counted. */
  readonly open: (ops: FileOps) => Promise<Store>;
  readonly operation: (store: Store) => Promise<unknown>;
  /** Reopens from the flash that survived and asserts the state is the old or the new one. */
  readonly check: (after: SimulatedFlash, cut: CutPoint, store: Store) => Promise<void>;
  readonly outcomes?: readonly PowerCutOutcome[];
}

export const DEFAULT_OUTCOMES: readonly PowerCutOutcome[] = [
  { kind: 'synced-only' },
  { kind: 'everything' },
  { kind: 'torn', seed: 1 },
  { kind: 'torn', seed: 2 },
  { kind: 'torn', seed: 3 },
];

export const describeCut = (cut: CutPoint): string =>
  `cut after ${cut.afterSteps}/${cut.totalSteps} steps (${cut.outcome.kind}` +
  `${cut.outcome.kind === 'torn' ? ` seed ${cut.outcome.seed}` : ''}); steps: ` +
  (cut.trace.join('; ') || 'none');

/** Runs the sweep; returns how many steps the operation takes. */
export async function cutAtEveryStep<Store>(options: CutEveryStepOptions<Store>): Promise<number> {
  const counter = new CuttingFileOps(options.base.clone());
  const counted = await options.open(counter);
  counter.arm();
  await options.operation(counted);
  const totalSteps = counter.steps;

  for (let afterSteps = 0; afterSteps <= totalSteps; afterSteps++) {
    for (const outcome of options.outcomes ?? DEFAULT_OUTCOMES) {
      const flash = options.base.clone();
      const ops = new CuttingFileOps(flash);
      const store = await options.open(ops);
      ops.arm(afterSteps);
      let acknowledged = false;
      try {
        await options.operation(store);
        acknowledged = true;
      } catch (error) {
        if (!(error instanceof PowerCut)) throw error;
      }
      if (acknowledged !== (afterSteps === totalSteps)) {
        throw new Error(`the operation took a different number of steps than ${totalSteps}`);
      }
      const cut = { afterSteps, totalSteps, acknowledged, outcome, trace: [...ops.trace] };
      await options.check(flash.powerCut(outcome), cut, store);
    }
  }
  return totalSteps;
}
