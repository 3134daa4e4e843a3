/** Time as milliseconds since the epoch. Injected everywhere so tests can move time with a fake clock. */
export interface Clock {
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };
