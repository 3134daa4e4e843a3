import type { Database as SqliteHandle, Statement } from 'better-sqlite3';
import { type Compilable, CompiledQuery, type Kysely, type QueryResult } from 'kysely';
import { embeddedSqliteOf } from './database.js';
import type { Tables } from './types.js';

/**
 * A query compiled once per database and then run with new values. Kysely otherwise rebuilds and recompiles the
 * SQL on every call, which on the hot paths (token refresh, `GET /users/me`) costs more than SQLite spends
 * running the query. The builder is called once with marker values; where each marker lands in the compiled
 * parameters tells where each real value goes, so builders may use their parameters in any order.
 *
 * On the embedded SQLite database the statement runs at once, synchronously, unless a transaction is open on its
 * one connection: then it queues behind that transaction through Kysely, as it must, or it would run inside it.
 */
export function prepared<P extends unknown[], R>(
  build: (db: Kysely<Tables>, ...params: P) => Compilable<R>,
): (db: Kysely<Tables>, ...params: P) => Promise<QueryResult<R>> {
  // Keyed by the dialect adapter, which a database and its transactions share: the SQL depends only on it.
  const compiled = new WeakMap<object, { sql: string; order: number[] }>();
  return async (db, ...params) => {
    const adapter = db.getExecutor().adapter;
    let query = compiled.get(adapter);
    if (!query) {
      const markers = params.map((_, index) => `\u0000param:${index}`);
      const { sql, parameters } = build(db, ...(markers as P)).compile();
      const order = parameters.map((value) => {
        const index = markers.indexOf(value as string);
        if (index < 0) throw new Error('a prepared query may only bind its parameters');
        return index;
      });
      query = { sql, order };
      compiled.set(adapter, query);
    }
    const values = query.order.map((index) => params[index]);
    const sqlite = embeddedSqliteOf(db);
    if (sqlite && !sqlite.inTransaction) return runNow<R>(sqlite, query.sql, values);
    return db.executeQuery<R>(CompiledQuery.raw(query.sql, values));
  };
}

interface RowReader {
  statement: Statement;
  toRow(values: unknown[]): unknown;
}

/** Per database, by SQL text: prepared queries are a fixed set, defined once each at module level. */
const readers = new WeakMap<SqliteHandle, Map<string, RowReader>>();

/**
 * Runs one statement as Kysely's SQLite driver would, and answers the same result shape. Rows are read as arrays
 * and made into objects by a function written for the statement's columns: better-sqlite3 builds each row object
 * one property at a time through V8's slow path (~10k instructions for a 17-column user row), which took
 * `GET /users/me` from ~205k to ~187k instructions per request on the server's main thread (callgrind).
 */
function runNow<R>(sqlite: SqliteHandle, sql: string, values: unknown[]): QueryResult<R> {
  let byText = readers.get(sqlite);
  if (!byText) {
    byText = new Map();
    readers.set(sqlite, byText);
  }
  let reader = byText.get(sql);
  if (!reader) {
    const statement = sqlite.prepare(sql);
    // `__proto__` as a literal key would set the prototype, so such a statement keeps better-sqlite3's objects.
    if (statement.reader && !statement.columns().some((column) => column.name === '__proto__')) {
      statement.raw(true);
      const fields = statement.columns().map((column, index) => `${JSON.stringify(column.name)}: values[${index}]`);
      reader = { statement, toRow: new Function('values', `return { ${fields.join(', ')} };`) as RowReader['toRow'] };
    } else {
      reader = { statement, toRow: (row) => row };
    }
    byText.set(sql, reader);
  }
  const { statement, toRow } = reader;
  if (statement.reader) return { rows: (statement.all(values) as unknown[][]).map(toRow) as R[] };
  const { changes, lastInsertRowid } = statement.run(values);
  return { numAffectedRows: BigInt(changes), insertId: BigInt(lastInsertRowid), rows: [] };
}
