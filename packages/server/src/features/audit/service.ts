import type { AuditEventName, AuditOutcome } from '@gatehouse/protocol';
import type { Transaction } from 'kysely';
import type { Clock } from '../../clock.js';
import { randomId } from '../../crypto/random.js';
import type { Database } from '../../db/index.js';
import type { AuditEventRow, Tables } from '../../db/types.js';
import { type ChainProblem, ChainVerifier, chainHash } from './chain.js';
import * as store from './store.js';

export interface AuditRecord {
  event: AuditEventName;
  outcome?: AuditOutcome;
  /** Who acted: the signed-in user or admin; null for an anonymous caller. */
  actorId?: string | null;
  /** Whose account the event concerns. */
  subjectId?: string | null;
  ip?: string | null;
  userAgent?: string | null;
  /** Context for the event (a failure reason, changed field names, a role). Never a secret. */
  details?: Record<string, unknown>;
}

/** Runs inside the transaction that appends an event, so work derived from it (webhook deliveries) is never lost. */
export type AppendHook = (trx: Transaction<Tables>, event: AuditEventRow) => Promise<void>;

const MAX_DETAILS_LENGTH = 4096;
const VERIFY_PAGE = 1000;

export interface VerifyReport {
  projectId: string;
  checked: number;
  problem: ChainProblem | null;
}

/**
 * The project's security log. Each event is appended in a transaction that locks the project's chain head, so
 * the chain stays linear when several nodes write at once; see chain.ts for what the hash covers.
 */
export class AuditLog {
  private readonly hooks: AppendHook[] = [];

  constructor(
    private readonly database: Database,
    private readonly clock: Clock,
    private readonly key: Uint8Array,
  ) {}

  onAppend(hook: AppendHook): void {
    this.hooks.push(hook);
  }

  /**
   * Appends an event. With `trx`, inside that transaction, so a flow's own writes and its audit event commit
   * together (a sign-in writes its session, the account and the event in one commit).
   */
  async record(projectId: string, input: AuditRecord, trx?: Transaction<Tables>): Promise<AuditEventRow> {
    const details = JSON.stringify(input.details ?? {});
    if (details.length > MAX_DETAILS_LENGTH) throw new Error(`audit details of ${input.event} are too long`);
    if (trx) return this.append(trx, projectId, input, details);
    return this.database.db.transaction().execute((own) => this.append(own, projectId, input, details));
  }

  private async append(
    trx: Transaction<Tables>,
    projectId: string,
    input: AuditRecord,
    details: string,
  ): Promise<AuditEventRow> {
    const head = await store.lockHead(trx, this.database.dialect, projectId);
    const fields = {
      id: randomId(),
      project_id: projectId,
      seq: Number(head.seq) + 1,
      created_at: this.clock.now(),
      event: input.event,
      outcome: input.outcome ?? 'success',
      actor_id: input.actorId ?? null,
      subject_id: input.subjectId ?? null,
      ip: input.ip ?? null,
      user_agent: input.userAgent?.slice(0, 512) ?? null,
      details,
      prev_hash: head.hash,
    };
    const row: AuditEventRow = { ...fields, hash: chainHash(this.key, fields) };
    await store.appendEvent(trx, row);
    for (const hook of this.hooks) await hook(trx, row);
    return row;
  }

  list(filter: store.AuditFilter): Promise<AuditEventRow[]> {
    return store.listEvents(this.database.db, filter);
  }

  /** Walks every project's chain from its first event; answers one report per project. */
  async verify(): Promise<VerifyReport[]> {
    const { db } = this.database;
    const reports: VerifyReport[] = [];
    for (const projectId of await store.chainedProjects(db)) {
      const verifier = new ChainVerifier(this.key);
      let problem: ChainProblem | null = null;
      let after = 0;
      for (;;) {
        const rows = await store.eventsInOrder(db, projectId, after, VERIFY_PAGE);
        problem = verifier.feed(rows);
        if (problem || rows.length < VERIFY_PAGE) break;
        after = Number(rows[rows.length - 1]?.seq);
      }
      problem ??= verifier.finish(await store.findHead(db, projectId));
      reports.push({ projectId, checked: verifier.checked, problem });
    }
    return reports;
  }
}
