// The baseline for POST /auth/refresh: the same storage work done directly with better-sqlite3 in one
// transaction (select the token row by hash, mark it used, insert its successor), on a WAL file database.
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';

const seconds = Number(process.argv[2] ?? 5);
const dir = mkdtempSync(join(tmpdir(), 'gatehouse-bench-sqlite-'));
const db = new Database(join(dir, 'bench.db'));
db.pragma('journal_mode = WAL');
db.pragma('synchronous = NORMAL');
db.exec(`create table refresh_tokens (token_hash text primary key, session_id text not null, project_id text not null,
  created_at bigint not null, expires_at bigint not null, used_at bigint)`);
const sha = (value) => createHash('sha256').update(value).digest('base64url');
const select = db.prepare('select * from refresh_tokens where token_hash = ?');
const markUsed = db.prepare('update refresh_tokens set used_at = ? where token_hash = ? and used_at is null');
const insert = db.prepare('insert into refresh_tokens values (?, ?, ?, ?, ?, null)');
const rotate = db.transaction((hash, next) => {
  const row = select.get(hash);
  markUsed.run(Date.now(), hash);
  insert.run(next, row.session_id, row.project_id, Date.now(), Date.now() + 1e9);
});
let current = sha(randomBytes(32));
insert.run(current, 's', 'p', Date.now(), Date.now() + 1e9);
let done = 0;
const started = Date.now();
while (Date.now() - started < seconds * 1000) {
  const next = sha(randomBytes(32));
  rotate(current, next);
  current = next;
  done += 1;
}
process.stdout.write(`${JSON.stringify({ perSecond: done / ((Date.now() - started) / 1000) })}\n`);
db.close();
rmSync(dir, { recursive: true, force: true });
