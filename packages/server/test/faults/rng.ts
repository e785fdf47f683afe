/**
 * A seeded random source (mulberry32): every random choice of the fault suite comes from it, so a run is replayed
 * with the seed it printed (`EHMI_FAULTS_SEED`). Timing still varies between runs; the choices do not.
 */
export class Rng {
  readonly seed: number;
  #state: number;

  constructor(seed: number) {
    this.seed = seed >>> 0;
    this.#state = this.seed;
  }

  /** A float in [0, 1). */
  next(): number {
    this.#state = (this.#state + 0x6d2b79f5) >>> 0;
    let t = this.#state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** An integer in [min, max]. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)]!;
  }

  /** An independent source for one part of the run (so adding a choice in one fault does not shift the others). */
  fork(label: string): Rng {
    let h = this.seed ^ 0x9e3779b9;
    for (const c of label) h = Math.imul(h ^ c.charCodeAt(0), 0x01000193) >>> 0;
    return new Rng(h);
  }
}

/** The seed of this run: `EHMI_FAULTS_SEED`, or a fresh one. */
export function runSeed(): number {
  const given = process.env.EHMI_FAULTS_SEED;
  if (given) {
    const n = Number(given);
    if (!Number.isInteger(n) || n < 0)
      throw new Error(`EHMI_FAULTS_SEED must be a non-negative integer: ${given}`);
    return n >>> 0;
  }
  return Math.floor(Math.random() * 2 ** 32) >>> 0;
}
