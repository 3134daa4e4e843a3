import { randomBytes, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createLocalJWKSet, decodeJwt, type JWK, type JWTPayload } from 'jose';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createAccessTokenVerifier, type Verified, withClaims } from '../../../../docs/recipes/postgres-rls.js';
import { TEST_DATABASE_URL, TEST_DIALECT } from '../testing/database.js';
import { createTestServer, PUBLIC_URL, type TestServer } from '../testing/test-server.js';

/**
 * docs/recipes/postgres-rls.md, run for real: Gatehouse issues the tokens, the recipe's TypeScript verifies them
 * and hands their claims to PostgreSQL, and the recipe's SQL decides which rows each caller gets.
 */
const recipes = new URL('../../../../docs/recipes/', import.meta.url);
const read = (name: string): string => readFileSync(new URL(name, recipes), 'utf8');

describe('the PostgreSQL RLS recipe', () => {
  it('quotes, verbatim, the SQL and the TypeScript that this test runs', () => {
    const doc = read('postgres-rls.md');
    expect(doc).toContain(`\`\`\`sql\n${read('postgres-rls.sql')}\`\`\``);
    expect(doc).toContain(`\`\`\`ts\n${read('postgres-rls.ts')}\`\`\``);
  });
});

interface Note {
  id: string;
  owner_id: string;
  body: string;
}

interface Caller {
  email: string;
  id: string;
  token: string;
}

describe.skipIf(TEST_DIALECT !== 'postgres')('row-level security driven by Gatehouse access tokens', () => {
  // Roles are cluster-wide: unique names keep parallel runs apart, and afterAll drops them.
  const suffix = randomBytes(6).toString('hex');
  const schema = `rls_${suffix}`;
  const ownerRole = `notes_owner_${suffix}`;
  const appRole = `notes_app_${suffix}`;

  let server: TestServer;
  let superuser: pg.Client;
  let pool: pg.Pool;
  let verify: (token: string) => Promise<Verified>;
  let alice: Caller;
  let bob: Caller;
  let admin: Caller;
  let editor: Caller;

  async function signIn(email: string): Promise<Caller> {
    const response = await server.login(email);
    expect(response.statusCode).toBe(200);
    const token = response.json().data.access_token as string;
    return { email, id: decodeJwt(token).sub!, token };
  }

  async function newCaller(setup?: (email: string) => Promise<void>): Promise<Caller> {
    const { email } = await server.user();
    await setup?.(email);
    return signIn(email);
  }

  /** Verifies, as a resource server must, and answers the claims; the tests only run verified claims. */
  async function claimsOf(caller: Caller): Promise<JWTPayload> {
    const verified = await verify(caller.token);
    if (!verified.ok) throw new Error(`token of ${caller.email} rejected: ${verified.reason}`);
    return verified.claims;
  }

  async function as<T>(caller: Caller, work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    return withClaims(pool, await claimsOf(caller), work);
  }

  const notesVisible = async (client: pg.PoolClient): Promise<Note[]> =>
    (await client.query<Note>('select id, owner_id, body from notes order by id')).rows;

  /** Every row, read by the superuser, whom no policy binds: the ground truth to compare callers' views with. */
  const allNotes = async (): Promise<Note[]> =>
    (await superuser.query<Note>('select id, owner_id, body from notes order by id')).rows;

  /** Runs `work` as the caller and rolls it back (withClaims rolls back when `work` throws), answering its result. */
  async function rolledBack<T>(caller: Caller, work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    const rollback = new Error('rollback');
    let result: T | undefined;
    await expect(
      as(caller, async (client) => {
        result = await work(client);
        throw rollback;
      }),
    ).rejects.toBe(rollback);
    return result as T;
  }

  /** A resource server's handler: verify first, and only a verified token reaches the database. */
  async function listNotes(token: string): Promise<{ status: 200; notes: Note[] } | { status: 401; reason: string }> {
    const verified = await verify(token);
    if (!verified.ok) return { status: 401, reason: verified.reason };
    return { status: 200, notes: await withClaims(pool, verified.claims, notesVisible) };
  }

  beforeAll(async () => {
    server = await createTestServer();
    const db = server.database.db;
    alice = await newCaller();
    bob = await newCaller();
    admin = await newCaller(async (email) => {
      await db.updateTable('users').set({ role: 'admin' }).where('email', '=', email).execute();
    });
    // A role that is not `admin` but carries the recipe's `notes:admin` permission.
    editor = await newCaller(async (email) => {
      await db
        .insertInto('roles')
        .values({
          id: randomUUID(),
          project_id: server.projectId,
          name: 'notes-editor',
          description: 'Moderates every note.',
          permissions: JSON.stringify(['notes:admin']),
          created_at: server.clock.now(),
        })
        .execute();
      await db.updateTable('users').set({ role: 'notes-editor' }).where('email', '=', email).execute();
    });

    const jwks = (await server.app.inject({ method: 'GET', url: '/.well-known/jwks.json' })).json() as { keys: JWK[] };
    verify = createAccessTokenVerifier({
      issuer: PUBLIC_URL,
      audience: server.config.jwtAudience,
      keys: createLocalJWKSet(jwks),
    });

    // As in production: the schema and the recipe belong to a plain owner role (a migration would run as it), and
    // the application runs as another plain role. Neither is a superuser or has BYPASSRLS (CREATE ROLE's defaults).
    superuser = new pg.Client({ connectionString: TEST_DATABASE_URL });
    await superuser.connect();
    await superuser.query(`create role ${ownerRole} nologin`);
    await superuser.query(`create role ${appRole} nologin`);
    await superuser.query(`create schema ${schema} authorization ${ownerRole}`);
    await superuser.query(`grant usage on schema ${schema} to ${appRole}`);
    await superuser.query(`set search_path to ${schema}`);
    await superuser.query(`set role ${ownerRole}`);
    // The recipe exactly as documented, but for the role name, which must be unique to this run.
    await superuser.query(read('postgres-rls.sql').replaceAll(/\bnotes_app\b/g, appRole));
    await superuser.query('reset role');
    await superuser.query('insert into notes (owner_id, body) values ($1, $2), ($1, $3), ($4, $5)', [
      alice.id,
      "alice's first",
      "alice's second",
      bob.id,
      "bob's",
    ]);

    // Each connection runs as the application role, as if it had logged in as it (SET ROLE at connection start,
    // so the test does not depend on pg_hba letting a new login role in). One connection, so a claim left behind
    // by one transaction would show in the next.
    const url = new URL(TEST_DATABASE_URL);
    url.searchParams.set('options', `-c role=${appRole} -c search_path=${schema}`);
    pool = new pg.Pool({ connectionString: url.toString(), max: 1 });
  });

  afterAll(async () => {
    await pool?.end();
    await server?.close();
    if (!superuser) return;
    await superuser.query('reset role');
    await superuser.query(`drop schema if exists ${schema} cascade`);
    await superuser.query(`drop role if exists ${appRole}`);
    await superuser.query(`drop role if exists ${ownerRole}`);
    await superuser.end();
  });

  it('runs the queries as a plain role that the policies bind', async () => {
    const client = await pool.connect();
    try {
      const { rows } = await client.query(
        'select current_user as name, rolsuper, rolbypassrls from pg_roles where rolname = current_user',
      );
      expect(rows).toEqual([{ name: appRole, rolsuper: false, rolbypassrls: false }]);
    } finally {
      client.release();
    }
  });

  it('hands the verified claims to PostgreSQL for the length of the transaction', async () => {
    const claims = await claimsOf(alice);
    expect(claims).toMatchObject({ sub: alice.id, role: 'user', permissions: [], token_use: 'access' });
    const seen = await as(alice, async (client) => {
      const { rows } = await client.query('select request_user_id() as id, request_is_notes_admin() as admin');
      return rows[0];
    });
    expect(seen).toEqual({ id: alice.id, admin: false });
  });

  it('shows each user only their own notes', async () => {
    const all = await allNotes();
    expect(new Set(all.map((note) => note.owner_id))).toEqual(new Set([alice.id, bob.id]));
    const aliceSees = await as(alice, notesVisible);
    const bobSees = await as(bob, notesVisible);
    expect(aliceSees).toEqual(all.filter((note) => note.owner_id === alice.id));
    expect(aliceSees.length).toBeGreaterThanOrEqual(2);
    expect(bobSees).toEqual(all.filter((note) => note.owner_id === bob.id));
    expect(bobSees.length).toBeGreaterThanOrEqual(1);
  });

  it('shows an admin, and a holder of notes:admin, every note', async () => {
    expect(await claimsOf(admin)).toMatchObject({ role: 'admin', permissions: ['*'] });
    expect(await claimsOf(editor)).toMatchObject({ role: 'notes-editor', permissions: ['notes:admin'] });
    const all = await allNotes();
    expect(await as(admin, notesVisible)).toEqual(all);
    expect(await as(editor, notesVisible)).toEqual(all);
  });

  it.each([
    [{ role: 'admin', permissions: [] }, true],
    [{ role: 'user', permissions: ['*'] }, true],
    [{ role: 'user', permissions: ['notes:read', 'notes:admin'] }, true],
    [{ role: 'user', permissions: ['notes:read'] }, false],
    [{ role: 'Admin', permissions: ['notes:admin:x', 'admin'] }, false],
    [{ role: 'user', permissions: '*' }, false],
    [{}, false],
  ])('request_is_notes_admin() reads the role and permissions claims: %j is %s', async (claims, expected) => {
    // The rule on its own, with hand-made claims: Gatehouse's admins also carry `*`, so the role check would
    // otherwise go unobserved.
    const answer = await withClaims(pool, { sub: randomUUID(), ...claims }, async (client) => {
      const { rows } = await client.query('select request_is_notes_admin() as admin');
      return rows[0].admin;
    });
    expect(answer).toBe(expected);
  });

  it("lets a user write their own notes, and refuses a note in another user's name", async () => {
    const written = await as(alice, async (client) => {
      const { rows } = await client.query<Note>('insert into notes (body) values ($1) returning owner_id, body', [
        'written by alice',
      ]);
      return rows[0];
    });
    expect(written).toEqual({ owner_id: alice.id, body: 'written by alice' });

    const forged = as(alice, (client) =>
      client.query('insert into notes (owner_id, body) values ($1, $2)', [bob.id, 'forged for bob']),
    );
    await expect(forged).rejects.toMatchObject({ code: '42501' }); // new row violates row-level security policy
    expect((await allNotes()).map((note) => note.body)).not.toContain('forged for bob');
  });

  it("cannot change or delete another user's notes, nor give one of theirs away", async () => {
    const before = await allNotes();
    const bobs = before.filter((note) => note.owner_id === bob.id);
    const [alicesNote] = before.filter((note) => note.owner_id === alice.id);

    const changed = await as(alice, async (client) => ({
      updated: (await client.query('update notes set body = $1 where owner_id = $2', ['defaced', bob.id])).rowCount,
      deleted: (await client.query('delete from notes where owner_id = $1', [bob.id])).rowCount,
    }));
    expect(changed).toEqual({ updated: 0, deleted: 0 });
    const deletedByWildcard = await rolledBack(
      alice,
      async (client) => (await client.query('delete from notes')).rowCount,
    );
    expect(deletedByWildcard).toBe(before.filter((note) => note.owner_id === alice.id).length);
    expect((await allNotes()).filter((note) => note.owner_id === bob.id)).toEqual(bobs);

    const ownUpdate = await as(alice, (client) =>
      client.query('update notes set body = $1 where id = $2', ['edited by alice', alicesNote!.id]),
    );
    expect(ownUpdate.rowCount).toBe(1);
    const giveAway = as(alice, (client) =>
      client.query('update notes set owner_id = $1 where id = $2', [bob.id, alicesNote!.id]),
    );
    await expect(giveAway).rejects.toMatchObject({ code: '42501' });
    expect((await allNotes()).find((note) => note.id === alicesNote!.id)?.owner_id).toBe(alice.id);
  });

  it('lets an admin change any note', async () => {
    const [bobsNote] = (await allNotes()).filter((note) => note.owner_id === bob.id);
    const updated = await as(admin, (client) =>
      client.query('update notes set body = $1 where id = $2', ['moderated', bobsNote!.id]),
    );
    expect(updated.rowCount).toBe(1);
    expect((await allNotes()).find((note) => note.id === bobsNote!.id)?.body).toBe('moderated');
  });

  it('shows nothing, and accepts nothing, without claims', async () => {
    expect((await allNotes()).length).toBeGreaterThan(0);
    const client = await pool.connect();
    try {
      expect((await client.query('select * from notes')).rows).toEqual([]);
      await expect(client.query("insert into notes (body) values ('anonymous')")).rejects.toMatchObject({
        code: '42501',
      });
    } finally {
      client.release();
    }
  });

  it("binds the table's owner too (FORCE ROW LEVEL SECURITY): it sees nothing, even with an admin's claims", async () => {
    expect((await allNotes()).length).toBeGreaterThan(0);
    const claims = JSON.stringify(await claimsOf(admin));
    try {
      await superuser.query('begin');
      await superuser.query(`set local role ${ownerRole}`);
      await superuser.query("select set_config('request.jwt.claims', $1, true)", [claims]);
      expect((await superuser.query('select * from notes')).rows).toEqual([]);
    } finally {
      await superuser.query('rollback');
    }
  });

  it('leaves no claims on the pooled connection after the transaction', async () => {
    expect((await as(admin, notesVisible)).length).toBeGreaterThan(0);
    const client = await pool.connect(); // max 1: the very connection the admin's transaction ran on
    try {
      expect((await client.query('select * from notes')).rows).toEqual([]);
      // The pitfall the recipe avoids: a session-wide set_config outlives the request and leaks to the next one.
      await client.query("select set_config('request.jwt.claims', $1, false)", [JSON.stringify(await claimsOf(admin))]);
    } finally {
      client.release();
    }
    const next = await pool.connect();
    try {
      expect(await notesVisible(next)).toEqual(await allNotes());
    } finally {
      next.release(true); // close it: it carries the admin's claims
    }
  });

  describe('refuses before the database is reached', () => {
    const refused = async (token: string): Promise<string> => {
      const connect = vi.spyOn(pool, 'connect');
      try {
        const answer = await listNotes(token);
        expect(connect).not.toHaveBeenCalled();
        if (answer.status !== 401) throw new Error('the token was accepted');
        return answer.reason;
      } finally {
        connect.mockRestore();
      }
    };
    const b64 = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');

    it('a valid token goes through (the control for the cases below)', async () => {
      const answer = await listNotes(bob.token);
      expect(answer.status).toBe(200);
    });

    it('an expired token', async () => {
      server.clock.advance(-16 * 60_000); // signed in 16 minutes ago: the 15-minute token has run out
      const expired = (await signIn(alice.email)).token;
      server.clock.advance(16 * 60_000);
      expect(decodeJwt(expired).exp!).toBeLessThan(Date.now() / 1000);
      expect(await refused(expired)).toBe('expired');
    });

    it('a tampered token: alice claiming to be bob, or an admin', async () => {
      const [header, payload, signature] = alice.token.split('.');
      const claims = decodeJwt(alice.token);
      expect(await refused(`${header}.${b64({ ...claims, sub: bob.id })}.${signature}`)).toBe('invalid');
      expect(await refused(`${header}.${b64({ ...claims, role: 'admin', permissions: ['*'] })}.${signature}`)).toBe(
        'invalid',
      );
      expect(await refused(`${b64({ alg: 'none', typ: 'JWT' })}.${payload}.`)).toBe('invalid');
    });

    it("Gatehouse's session-cookie token, which is not a bearer token", async () => {
      const response = await server.login(alice.email, undefined, 'session');
      const cookie = [response.headers['set-cookie']]
        .flat()
        .find((line) => line?.startsWith('gatehouse_session_token='));
      const sessionToken = cookie!.split(';')[0]!.slice('gatehouse_session_token='.length);
      expect(decodeJwt(sessionToken)).toMatchObject({ sub: alice.id, token_use: 'session' });
      expect(await refused(sessionToken)).toBe('invalid');
    });
  });
});
