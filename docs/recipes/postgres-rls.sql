-- Row-level security driven by Gatehouse access tokens (docs/recipes/postgres-rls.md).
-- Run as the role that owns the schema, e.g. in a migration. `notes_app` is the role the application
-- connects as: not the owner of these objects, not a superuser, without BYPASSRLS.

-- The verified claims of the current transaction, or '{}' when none were set. Once a transaction-local
-- set_config has ended, the setting reads as '' rather than NULL on that connection, hence the nullif.
-- The functions use SQL-standard bodies (PostgreSQL 14+): names inside them are resolved when they are
-- created, so they do not depend on the caller's search_path.
create function request_claims() returns jsonb
  language sql stable
  return coalesce(nullif(current_setting('request.jwt.claims', true), ''), '{}')::jsonb;

-- The caller's Gatehouse user id (the token's `sub`), or NULL without claims.
create function request_user_id() returns uuid
  language sql stable
  return (request_claims() ->> 'sub')::uuid;

-- Whether the caller may read and write every note: the `admin` role, or the `*` or `notes:admin` permission.
-- Only an array of permissions counts (`?|` would also match a bare string).
create function request_is_notes_admin() returns boolean
  language sql stable
  return coalesce(
    request_claims() ->> 'role' = 'admin'
      or (jsonb_typeof(request_claims() -> 'permissions') = 'array'
        and request_claims() -> 'permissions' ?| array['*', 'notes:admin']),
    false
  );

create table notes (
  id bigint generated always as identity primary key,
  owner_id uuid not null default request_user_id(),
  body text not null
);
create index notes_owner_id on notes (owner_id);

-- With RLS enabled and no policy that applies, a role sees no rows at all. FORCE makes the policies bind the
-- table's owner too, so a connection that ends up running as the owner sees nothing rather than everything.
-- (Superusers and roles with BYPASSRLS still skip every policy: never let the application connect as one.)
alter table notes enable row level security;
alter table notes force row level security;

-- Policies of the same command are OR-ed: a row is visible if either one lets it through. `(select f())`
-- evaluates the claims once per statement instead of once per row.
create policy notes_owner on notes
  for all
  to notes_app
  using (owner_id = (select request_user_id()))
  with check (owner_id = (select request_user_id()));

create policy notes_admin on notes
  for all
  to notes_app
  using ((select request_is_notes_admin()))
  with check ((select request_is_notes_admin()));

grant select, insert, update, delete on notes to notes_app;
