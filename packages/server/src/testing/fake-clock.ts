import type { Clock } from '../clock.js';

/** A clock that only moves when told to. */
export class FakeClock implements Clock {
  /** Starts at the real time, so tokens it stamps also verify outside the server (e.g. with jose in a test). */
  constructor(private current = Date.now()) {}

  now(): number {
    return this.current;
  }

  advance(milliseconds: number): void {
    this.current += milliseconds;
  }
}
