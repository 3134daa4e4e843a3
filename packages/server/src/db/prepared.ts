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
    const embedded = embeddedSqliteOf(db);
    if (embedded && !embedded.sqlite.inTransaction) {
      try {
        return runNow<R>(embedded.sqlite, query.sql, values);
      } finally {
        embedded.writes.seen(query.sql);
      }
    }
    return db.executeQuery<R>(CompiledQuery.raw(query.sql, values));
  };
}

interface RowReader {
  statement: Statement;
  /** The same query answering each row as one JSON array (see `jsonStatement`), or null where it cannot. */
  json: Statement | null;
  toRow(values: unknown[]): unknown;
}

/** Per database, by SQL text: prepared queries are a fixed set, defined once each at module level. */
const readers = new WeakMap<SqliteHandle, Map<string, RowReader>>();

/**
 * Runs one statement as Kysely's SQLite driver would, and answers the same result shape. better-sqlite3 builds
 * each row, object or array, one property at a time through V8's slow path (~10k instructions for a 17-column
 * user row). Where it can, a row is instead read as one JSON array made by SQLite (`jsonStatement`), parsed by
 * `JSON.parse` and made into an object by a function written for the statement's columns: the user read of
 * `GET /users/me` and of every refresh (bench/README.md).
 */
function runNow<R>(sqlite: SqliteHandle, sql: string, values: unknown[]): QueryResult<R> {
  let byText = readers.get(sqlite);
  if (!byText) {
    byText = new Map();
    readers.set(sqlite, byText);
  }
  let reader = byText.get(sql);
  if (!reader) {
    reader = readerFor(sqlite, sql);
    byText.set(sql, reader);
  }
  const { statement, json, toRow } = reader;
  if (json) {
    try {
      return { rows: (json.all(values) as string[]).map((row) => toRow(JSON.parse(row))) as R[] };
    } catch (error) {
      // A value JSON cannot hold (a BLOB) in a column declared otherwise: read this statement the usual way.
      if (!(error instanceof Error && /JSON cannot hold BLOB/i.test(error.message))) throw error;
      reader.json = null;
    }
  }
  if (statement.reader) return { rows: (statement.all(values) as unknown[][]).map(toRow) as R[] };
  const { changes, lastInsertRowid } = statement.run(values);
  return { numAffectedRows: BigInt(changes), insertId: BigInt(lastInsertRowid), rows: [] };
}

function readerFor(sqlite: SqliteHandle, sql: string): RowReader {
  const statement = sqlite.prepare(sql);
  // `__proto__` as a literal key would set the prototype, so such a statement keeps better-sqlite3's objects.
  if (!statement.reader || statement.columns().some((column) => column.name === '__proto__')) {
    return { statement, json: null, toRow: (row) => row };
  }
  statement.raw(true);
  const fields = statement.columns().map((column, index) => `${JSON.stringify(column.name)}: values[${index}]`);
  return {
    statement,
    json: jsonStatement(sqlite, sql, statement),
    toRow: new Function('values', `return { ${fields.join(', ')} };`) as RowReader['toRow'],
  };
}

/** One selected item: a column, maybe qualified by its table, maybe renamed. */
const ITEM = String.raw`(?:"\w+"\.)?"\w+"(?: as "\w+")?`;
const PLAIN_SELECT = new RegExp(`^select (${ITEM}(?:, ${ITEM})*) from `);
/** Declared types whose values JSON carries exactly: text and integers (timestamps in ms, counts). */
const JSON_SAFE_TYPE = /^(?:text|integer|bigint)$/i;

/**
 * The statement `select json_array(<the same columns>) from <the same rest>`, or null unless every selected item
 * is a plain column of a JSON-safe declared type. The rows, order and values are the query's own; only their
 * shape on the way out differs.
 */
function jsonStatement(sqlite: SqliteHandle, sql: string, statement: Statement): Statement | null {
  const match = PLAIN_SELECT.exec(sql);
  // A compound query would get JSON from its first part only.
  if (!match?.[1] || / (?:union|intersect|except) /i.test(sql)) return null;
  const columns = statement.columns();
  if (!columns.every((column) => column.type !== null && JSON_SAFE_TYPE.test(column.type))) return null;
  const items = match[1].split(', ').map((item) => item.replace(/ as "\w+"$/, ''));
  if (items.length !== columns.length) return null;
  try {
    return sqlite.prepare(`select json_array(${items.join(', ')}) from ${sql.slice(match[0].length)}`).pluck(true);
  } catch {
    return null;
  }
}
