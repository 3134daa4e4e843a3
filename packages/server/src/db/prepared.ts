import { type Compilable, CompiledQuery, type Kysely, type QueryResult } from 'kysely';
import type { Tables } from './types.js';

/**
 * A query compiled once per database and then run with new values. Kysely otherwise rebuilds and recompiles the
 * SQL on every call, which on the hot paths (token refresh, `GET /users/me`) costs more than SQLite spends
 * running the query. The builder is called once with marker values; where each marker lands in the compiled
 * parameters tells where each real value goes, so builders may use their parameters in any order.
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
    return db.executeQuery<R>(CompiledQuery.raw(query.sql, values));
  };
}
