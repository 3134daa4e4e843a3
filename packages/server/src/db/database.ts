import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import SQLite from 'better-sqlite3';
import { Kysely, PostgresDialect, type SqliteDatabase, SqliteDialect, sql } from 'kysely';
import type pg from 'pg';
import type { Tables } from './types.js';
import { WriteWatch, watchedDialect } from './write-watch.js';

export type Dialect = 'sqlite' | 'postgres';

export interface Database {
  db: Kysely<Tables>;
  dialect: Dialect;
  /**
   * The embedded database's own handle, for the few hot paths that run a whole transaction synchronously (no
   * await between statements). Only use it inside `db.connection().execute(...)`, which waits for any Kysely
   * transaction in flight on the single SQLite connection, or directly when `sqlite.inTransaction` is false (no
   * transaction is open, so synchronous work cannot land inside one). Null on PostgreSQL.
   */
  sqlite: SQLite.Database | null;
  /**
   * Calls back when a statement may have written a table, for in-process caches of its rows. Statements run on
   * `sqlite` directly are not seen: that handle is for the refresh rotation, which writes tokens and sessions only.
   */
  writes: WriteWatch;
  /** Answers true when the database takes a trivial query. */
  ping(): Promise<boolean>;
  close(): Promise<void>;
}

const INT8_OID = 20;

/**
 * Opens the database named by a `sqlite:<path>` or `postgres://` URL. SQLite runs in WAL mode with a busy
 * timeout, so concurrent writers from the same process queue instead of failing.
 */
export async function openDatabase(url: string): Promise<Database> {
  if (url.startsWith('sqlite:')) return openSqlite(url.slice('sqlite:'.length));
  // Loaded only when used: the driver is a noticeable part of start-up time on the embedded default.
  const { default: driver } = await import('pg');
  return openPostgres(url, driver);
}

function openSqlite(path: string): Database {
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
  const sqlite = new SQLite(path);
  sqlite.pragma('journal_mode = WAL');
  sqlite.pragma('synchronous = NORMAL');
  sqlite.pragma('foreign_keys = ON');
  sqlite.pragma('busy_timeout = 5000');
  const writes = new WriteWatch();
  const db = new Kysely<Tables>({
    dialect: watchedDialect(new SqliteDialect({ database: withStatementCache(sqlite) }), writes),
  });
  embedded.set(db, { sqlite, writes });
  return {
    db,
    dialect: 'sqlite',
    sqlite,
    writes,
    ping: () => ping(db),
    close: () => db.destroy(),
  };
}

const STATEMENT_CACHE_SIZE = 500;

const embedded = new WeakMap<Kysely<Tables>, { sqlite: SQLite.Database; writes: WriteWatch }>();

/**
 * The SQLite handle behind `db` when `db` is the root instance of an embedded database, for running a single
 * statement synchronously, and the watch that statement must report to. Undefined on PostgreSQL and for a Kysely
 * transaction (which must go through Kysely).
 */
export function embeddedSqliteOf(db: Kysely<Tables>): { sqlite: SQLite.Database; writes: WriteWatch } | undefined {
  return embedded.get(db);
}

/**
 * Kysely prepares every query anew, and preparing costs more than running a point query on SQLite. The queries
 * Gatehouse runs are a small fixed set of SQL strings (values are bound), so prepared statements are kept and
 * reused, in a bounded map.
 */
function withStatementCache(sqlite: SQLite.Database): SqliteDatabase {
  const statements = new Map<string, SQLite.Statement>();
  return {
    close: () => sqlite.close(),
    prepare(text: string) {
      let statement = statements.get(text);
      if (!statement) {
        statement = sqlite.prepare(text);
        if (statements.size >= STATEMENT_CACHE_SIZE) statements.delete(statements.keys().next().value as string);
        statements.set(text, statement);
      }
      return statement;
    },
  };
}

function openPostgres(url: string, driver: typeof pg): Database {
  const pool = new driver.Pool({
    connectionString: url,
    max: 10,
    // Millisecond timestamps are bigint columns; they fit a JavaScript number exactly.
    types: {
      getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
        oid === INT8_OID
          ? (value: string) => Number(value)
          : driver.types.getTypeParser(oid, format)) as typeof driver.types.getTypeParser,
    },
  });
  const writes = new WriteWatch();
  const db = new Kysely<Tables>({ dialect: watchedDialect(new PostgresDialect({ pool }), writes) });
  return {
    db,
    dialect: 'postgres',
    sqlite: null,
    writes,
    ping: () => ping(db),
    close: () => db.destroy(),
  };
}

async function ping(db: Kysely<Tables>): Promise<boolean> {
  try {
    await sql`select 1`.execute(db);
    return true;
  } catch {
    return false;
  }
}

/** True when a write failed on a unique constraint, on either dialect. */
export function isUniqueViolation(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === '23505' || code === 'SQLITE_CONSTRAINT_UNIQUE';
}
