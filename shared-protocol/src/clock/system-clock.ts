import type { Clock } from './index.js';

/**
 * The platform's clock, for hosts to inject. Nothing in shared-protocol uses it by itself: every
 * time-based piece takes a Clock argument.
 */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (callback, ms) => globalThis.setTimeout(callback, ms),
  clearTimeout: (handle) => globalThis.clearTimeout(handle as Parameters<typeof clearTimeout>[0]),
};
