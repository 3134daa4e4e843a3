import type { FastifyBaseLogger } from 'fastify';

/**
 * Work a request starts but does not wait for: the mail of public flows (so an answer's timing does not depend
 * on whether the account exists) and sign-in notices (so a mail problem never fails a sign-in). A failure is
 * logged with its error, never with the token or link the work was about.
 */
export class BackgroundTasks {
  private readonly running = new Set<Promise<void>>();

  constructor(private readonly log: Pick<FastifyBaseLogger, 'error'>) {}

  run(what: string, task: () => Promise<void>): void {
    const done: Promise<void> = task()
      .catch((error: unknown) => this.log.error({ err: error, task: what }, `${what} failed`))
      .finally(() => this.running.delete(done));
    this.running.add(done);
  }

  /** Waits until every task started so far (and any they started) has ended. */
  async settled(): Promise<void> {
    while (this.running.size > 0) await Promise.allSettled([...this.running]);
  }
}
