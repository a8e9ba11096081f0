/**
 * A small seeded PRNG (mulberry32): fault injection must be reproducible from a seed so a failing
 * test can be replayed bit for bit. Not for anything security related.
 */
export type Random = () => number;

export function seededRandom(seed: number): Random {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Derives independent streams from one seed (e.g. one per direction of the line). */
export function deriveSeed(seed: number, stream: number): number {
  return Math.imul((seed >>> 0) ^ Math.imul(stream + 1, 0x9e3779b9), 0x85ebca6b) >>> 0;
}
