// The baseline for POST /auth/refresh: the same storage work done directly with better-sqlite3 in one
// transaction (select the token row by hash, mark it used, insert its successor), on Gatehouse's own schema
// (same tables, indexes, foreign keys and pragmas, created by its migrations) in a WAL file database.
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { migrate, openDatabase } from '../packages/server/dist/db/index.js';

const seconds = Number(process.argv[2] ?? 5);
const dir = mkdtempSync(join(tmpdir(), 'gatehouse-bench-sqlite-'));
const database = await openDatabase(`sqlite:${join(dir, 'bench.db')}`);
await migrate(database);
const db = database.sqlite;
const now = Date.now();
const project = randomUUID();
const user = randomUUID();
const session = randomUUID();
db.prepare('insert into projects (id, slug, name, created_at) values (?, ?, ?, ?)').run(project, 'bench', 'Bench', now);
db.prepare(
  `insert into users (id, project_id, email, role, status, provider, created_at, updated_at)
   values (?, ?, 'bench@example.com', 'user', 'active', 'default', ?, ?)`,
).run(user, project, now, now);
db.prepare(
  `insert into sessions (id, project_id, user_id, mode, amr, auth_time, created_at, last_used_at, expires_at, absolute_expires_at)
   values (?, ?, ?, 'json', '["pwd"]', ?, ?, ?, ?, ?)`,
).run(session, project, user, now, now, now, now + 1e9, now + 1e9);

const sha = (value) => createHash('sha256').update(value).digest('base64url');
const select = db.prepare('select * from refresh_tokens where token_hash = ?');
const markUsed = db.prepare('update refresh_tokens set used_at = ? where token_hash = ? and used_at is null');
const insert = db.prepare(
  'insert into refresh_tokens (token_hash, session_id, project_id, created_at, expires_at) values (?, ?, ?, ?, ?)',
);
const rotate = db.transaction((hash, next) => {
  const row = select.get(hash);
  markUsed.run(Date.now(), hash);
  insert.run(next, row.session_id, row.project_id, Date.now(), Date.now() + 1e9);
});
let current = sha(randomBytes(32));
insert.run(current, session, project, now, now + 1e9);
let done = 0;
const started = Date.now();
while (Date.now() - started < seconds * 1000) {
  const next = sha(randomBytes(32));
  rotate(current, next);
  current = next;
  done += 1;
}
process.stdout.write(`${JSON.stringify({ perSecond: done / ((Date.now() - started) / 1000) })}\n`);
await database.close();
rmSync(dir, { recursive: true, force: true });
