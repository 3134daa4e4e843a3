import { createHmac, timingSafeEqual } from 'node:crypto';
import type { AuditEventRow } from '../../db/types.js';

/** The `prev_hash` of a project's first event. */
export const GENESIS_HASH = '0'.repeat(64);

export type ChainedFields = Omit<AuditEventRow, 'hash'>;

/**
 * The hash of an event: HMAC-SHA256, under a key derived from the master secret, over every stored field
 * including the previous event's hash. Editing any field, deleting or inserting a row, or reordering rows
 * breaks the chain from that point on; and without the secret, a rewritten chain cannot be made to verify.
 */
export function chainHash(key: Uint8Array, event: ChainedFields): string {
  const canonical = JSON.stringify([
    event.id,
    event.project_id,
    Number(event.seq),
    Number(event.created_at),
    event.event,
    event.outcome,
    event.actor_id,
    event.subject_id,
    event.ip,
    event.user_agent,
    event.details,
    event.prev_hash,
  ]);
  return createHmac('sha256', key).update(canonical).digest('hex');
}

export interface ChainProblem {
  /** The sequence number where the chain first breaks. */
  seq: number;
  reason: 'gap' | 'link' | 'hash' | 'head';
}

/**
 * Checks one project's events, in `seq` order, page by page. Answers the first problem found, or null when
 * every event links to the one before and the last one matches the stored head.
 */
export class ChainVerifier {
  private expectedSeq = 1;
  private previousHash = GENESIS_HASH;
  checked = 0;

  constructor(private readonly key: Uint8Array) {}

  /** Feeds the next rows; answers the first problem found in them, if any. */
  feed(rows: readonly AuditEventRow[]): ChainProblem | null {
    for (const row of rows) {
      const seq = Number(row.seq);
      if (seq !== this.expectedSeq) return { seq: this.expectedSeq, reason: 'gap' };
      if (row.prev_hash !== this.previousHash) return { seq, reason: 'link' };
      if (!equalHex(chainHash(this.key, row), row.hash)) return { seq, reason: 'hash' };
      this.previousHash = row.hash;
      this.expectedSeq += 1;
      this.checked += 1;
    }
    return null;
  }

  /** After the last row: the stored head must name the last event, so deleting the newest rows shows too. */
  finish(head: { seq: number; hash: string } | undefined): ChainProblem | null {
    const lastSeq = this.expectedSeq - 1;
    if (!head) return lastSeq === 0 ? null : { seq: lastSeq, reason: 'head' };
    if (Number(head.seq) !== lastSeq || head.hash !== this.previousHash) {
      return { seq: Math.min(Number(head.seq), lastSeq + 1), reason: 'head' };
    }
    return null;
  }
}

function equalHex(a: string, b: string): boolean {
  const left = Buffer.from(a, 'utf8');
  const right = Buffer.from(b, 'utf8');
  return left.length === right.length && timingSafeEqual(left, right);
}
