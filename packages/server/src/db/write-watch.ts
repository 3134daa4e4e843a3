import type {
  CompiledQuery,
  DatabaseConnection,
  Dialect,
  Driver,
  QueryCompiler,
  QueryResult,
  TransactionSettings,
} from 'kysely';

type Listener = () => void;

/**
 * Tells in-process caches when a table they hold rows of may have changed. Every statement the database runs
 * passes `seen` after it has run; one that may write a watched table calls that table's listeners, and calls them
 * again when its transaction commits or rolls back, because until then other connections still read the old rows.
 *
 * "May write" is judged from the SQL text, to err on the safe side: any statement that is not a plain `select`
 * and names the table as a word counts (`update "users" …`, `delete from "users" …`, a migration's `alter table`,
 * an insert that selects from it). A listener that runs too often costs a cache hit; one that misses a write would
 * serve a stale row. Rows a foreign key's `on delete cascade` removes are not seen either: watch the parent table
 * too where that can happen (users are only deleted directly; their project, the one parent, never is).
 */
export class WriteWatch {
  private readonly watched: { table: RegExp; listener: Listener }[] = [];

  /** Calls `listener` after each statement that may write `table`, and when such a statement's transaction ends. */
  on(table: string, listener: Listener): void {
    if (!/^\w+$/.test(table)) throw new Error(`not a table name: ${table}`);
    this.watched.push({ table: new RegExp(`\\b${table}\\b`, 'i'), listener });
  }

  /** Runs the listeners of the tables `sql` may write, and answers them (empty for a read or an unwatched table). */
  seen(sql: string): readonly Listener[] {
    if (this.watched.length === 0 || /^\s*select\b/i.test(sql)) return NONE;
    const fired: Listener[] = [];
    for (const { table, listener } of this.watched) {
      if (table.test(sql)) {
        listener();
        fired.push(listener);
      }
    }
    return fired;
  }
}

const NONE: readonly Listener[] = [];

/** `dialect`, with every statement it runs reported to `watch` (see WriteWatch). */
export function watchedDialect(dialect: Dialect, watch: WriteWatch): Dialect {
  return {
    createAdapter: () => dialect.createAdapter(),
    createQueryCompiler: () => dialect.createQueryCompiler(),
    createIntrospector: (db) => dialect.createIntrospector(db),
    createDriver: () => new WatchedDriver(dialect.createDriver(), watch),
  };
}

/** A connection that reports each statement after it ran, and remembers the listeners its transaction owes. */
class WatchedConnection implements DatabaseConnection {
  /** Listeners to call again when the open transaction ends. */
  readonly pending = new Set<Listener>();

  constructor(
    readonly inner: DatabaseConnection,
    private readonly watch: WriteWatch,
  ) {}

  async executeQuery<R>(query: CompiledQuery): Promise<QueryResult<R>> {
    try {
      return await this.inner.executeQuery<R>(query);
    } finally {
      // Also after a failed statement: part of it may have been applied before the error.
      for (const listener of this.watch.seen(query.sql)) this.pending.add(listener);
    }
  }

  streamQuery<R>(query: CompiledQuery, chunkSize?: number): AsyncIterableIterator<QueryResult<R>> {
    for (const listener of this.watch.seen(query.sql)) this.pending.add(listener);
    return this.inner.streamQuery<R>(query, chunkSize);
  }

  /** The transaction has ended: its writes are now visible to every connection, or gone. */
  ended(): void {
    for (const listener of this.pending) listener();
    this.pending.clear();
  }
}

type CompileQuery = QueryCompiler['compileQuery'];

class WatchedDriver implements Driver {
  /** One wrapper per pooled connection, made the first time it is handed out. */
  private readonly wrappers = new WeakMap<DatabaseConnection, WatchedConnection>();
  savepoint?: (connection: DatabaseConnection, name: string, compile: CompileQuery) => Promise<void>;
  rollbackToSavepoint?: (connection: DatabaseConnection, name: string, compile: CompileQuery) => Promise<void>;
  releaseSavepoint?: (connection: DatabaseConnection, name: string, compile: CompileQuery) => Promise<void>;

  constructor(
    private readonly inner: Driver,
    private readonly watch: WriteWatch,
  ) {
    // Kysely tells whether a driver supports savepoints by whether these exist, so they exist only where they do.
    const { savepoint, rollbackToSavepoint, releaseSavepoint } = inner;
    if (savepoint) this.savepoint = (c, name, compile) => savepoint.call(inner, unwrap(c), name, compile);
    if (rollbackToSavepoint) {
      this.rollbackToSavepoint = (c, name, compile) => rollbackToSavepoint.call(inner, unwrap(c), name, compile);
    }
    if (releaseSavepoint) {
      this.releaseSavepoint = (c, name, compile) => releaseSavepoint.call(inner, unwrap(c), name, compile);
    }
  }

  init(): Promise<void> {
    return this.inner.init();
  }

  async acquireConnection(): Promise<DatabaseConnection> {
    const connection = await this.inner.acquireConnection();
    let wrapper = this.wrappers.get(connection);
    if (!wrapper) {
      wrapper = new WatchedConnection(connection, this.watch);
      this.wrappers.set(connection, wrapper);
    }
    return wrapper;
  }

  beginTransaction(connection: DatabaseConnection, settings: TransactionSettings): Promise<void> {
    return this.inner.beginTransaction(unwrap(connection), settings);
  }

  async commitTransaction(connection: DatabaseConnection): Promise<void> {
    try {
      await this.inner.commitTransaction(unwrap(connection));
    } finally {
      (connection as WatchedConnection).ended();
    }
  }

  async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    try {
      await this.inner.rollbackTransaction(unwrap(connection));
    } finally {
      (connection as WatchedConnection).ended();
    }
  }

  releaseConnection(connection: DatabaseConnection): Promise<void> {
    // Outside a transaction each statement was visible as soon as it ran, and its listeners have been called.
    (connection as WatchedConnection).pending.clear();
    return this.inner.releaseConnection(unwrap(connection));
  }

  destroy(): Promise<void> {
    return this.inner.destroy();
  }
}

function unwrap(connection: DatabaseConnection): DatabaseConnection {
  return (connection as WatchedConnection).inner;
}
