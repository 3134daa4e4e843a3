import { isAllowedUrl } from '../../http/allowed-url.js';

/**
 * The page a mailed link opens: the caller's `given` URL when it lies under the public URL or a prefix of
 * `allowList` (see http/allowed-url.ts), else null; without one, `defaultPath` under the public URL.
 */
export function linkBase(
  given: string | undefined,
  options: { publicUrl: string; defaultPath: string; allowList: readonly string[] },
): string | null {
  if (given === undefined) return new URL(options.defaultPath, options.publicUrl).toString();
  return isAllowedUrl(given, [options.publicUrl, ...options.allowList]) ? given : null;
}

/** `base` with `?token=` added (a query it already has is kept). */
export function linkWithToken(base: string, token: string): string {
  const link = new URL(base);
  link.searchParams.set('token', token);
  return link.toString();
}
