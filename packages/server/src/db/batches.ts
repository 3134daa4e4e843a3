/** Rows a housekeeping delete removes per statement. */
export const DELETE_BATCH = 1000;

/**
 * Runs `deleteBatch` until it removes fewer than `DELETE_BATCH` rows and answers how many went in all. One batch
 * at a time, with other work let in between: on SQLite no single statement holds the one writer lock, or the
 * event loop, for long.
 */
export async function deleteInBatches(deleteBatch: (limit: number) => Promise<number>): Promise<number> {
  let deleted = 0;
  for (;;) {
    const batch = await deleteBatch(DELETE_BATCH);
    deleted += batch;
    if (batch < DELETE_BATCH) return deleted;
    await new Promise((resolve) => setImmediate(resolve));
  }
}
