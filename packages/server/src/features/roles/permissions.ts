/**
 * Permission strings are `<resource>:<action>`. A role holds a list of them; `*` grants everything and
 * `<resource>:*` every action on one resource. Projects add free-form ones of their own (`posts:write`) that
 * Gatehouse only carries in tokens.
 */
export const PERMISSIONS = {
  'users:read': 'List and read accounts, and their sessions.',
  'users:write': 'Create and update accounts, change their role or status, end their sessions.',
  'users:delete': 'Delete accounts.',
  'users:impersonate': 'Obtain a short token that acts as another user (support).',
  'roles:read': 'List and read roles.',
  'roles:write': 'Create, update and delete roles.',
  'projects:read': 'Read project settings.',
  'projects:write': 'Update project settings.',
  'audit:read': 'Read the audit trail of the project.',
  'webhooks:read': 'List webhooks and their deliveries.',
  'webhooks:write': 'Create, update and delete webhooks.',
  'templates:read': 'Read the e-mail templates of the project.',
  'templates:write': 'Replace and reset e-mail templates.',
  'outbox:read': 'Read outgoing mail in the outbox, including the links it carries (development outbox).',
  'api-keys:admin': "List and revoke any user's personal API keys.",
  'projects:keys': 'Create, list, rotate and revoke the publishable and secret keys of the project.',
} as const satisfies Record<string, string>;

export type Permission = keyof typeof PERMISSIONS;

/** A permission string: lower-case resource and action, or a wildcard. */
export const PERMISSION_PATTERN = '^(\\*|[a-z0-9][a-z0-9_.-]*:(\\*|[a-z0-9][a-z0-9_.-]*))$';

/** True when the granted list covers `required`: exactly, through `*`, or through `<resource>:*`. */
export function hasPermission(granted: readonly string[], required: string): boolean {
  const resource = required.slice(0, required.indexOf(':') + 1);
  for (const permission of granted) {
    if (permission === '*' || permission === required) return true;
    if (resource && permission === `${resource}*`) return true;
  }
  return false;
}

/**
 * What a key with `scopes` may use of the permissions `held` by its user: the scopes `held` covers, and those of
 * `held` the scopes cover (`users:*` held and `users:read` scoped gives `users:read`; `*` scoped gives all that
 * is held). Null scopes grant everything held. Computed at each use, so a user who loses a permission loses it
 * on their keys too.
 */
export function effectivePermissions(held: readonly string[], scopes: readonly string[] | null): string[] {
  if (scopes === null) return [...held];
  const granted = new Set<string>();
  for (const scope of scopes) if (hasPermission(held, scope)) granted.add(scope);
  for (const permission of held) if (hasPermission(scopes, permission)) granted.add(permission);
  return [...granted];
}
