/**
 * libuv's threadpool runs password hashing (@node-rs/argon2) and token signing (node:crypto's callback form), and
 * node's own file and DNS work. Its size is fixed when the process starts: UV_THREADPOOL_SIZE, 4 by default.
 *
 * A password hash holds a thread for 10-40 ms, a signature for ~30 µs. Hashes are counted here so that a token is
 * signed on the pool only while a thread is left beside them, and otherwise at once on the main thread, as it
 * would be without a pool: a refresh never waits behind a burst of sign-ins.
 */
export const THREADPOOL_SIZE = poolSize(process.env.UV_THREADPOOL_SIZE);

let hashing = 0;

/** Runs a password hash or verification, counted as holding a pool thread until it settles. */
export async function asPasswordWork<T>(work: () => Promise<T>): Promise<T> {
  hashing += 1;
  try {
    return await work();
  } finally {
    hashing -= 1;
  }
}

/** True while password work leaves at least one pool thread for short jobs. */
export function poolHasRoom(): boolean {
  return hashing < THREADPOOL_SIZE;
}

/**
 * libuv's own reading of the variable: 4 when it is unset; otherwise its leading number (`atoi`), where 0 (also
 * for text that is no number) means 1 and a negative number, read as unsigned, or one above 1024 means 1024.
 */
export function poolSize(value: string | undefined): number {
  if (value === undefined) return 4;
  const size = Number.parseInt(value, 10);
  if (Number.isNaN(size) || size === 0) return 1;
  if (size < 0 || size > 1024) return 1024;
  return size;
}
