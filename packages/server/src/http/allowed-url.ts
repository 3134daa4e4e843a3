/**
 * Whether `candidate` lies under one of `prefixes`: the same scheme, host and port, and a path that starts at a
 * segment boundary of the prefix's path. Plain string prefixes would let `https://app.example.com.evil.test`
 * pass for `https://app.example.com`, and `https://app.example.com/invite-evil` for `.../invite`.
 * Only http and https URLs are ever allowed, and never one with credentials in it.
 */
export function isAllowedUrl(candidate: string, prefixes: readonly string[]): boolean {
  let url: URL;
  try {
    url = new URL(candidate);
  } catch {
    return false;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return false;
  if (url.username !== '' || url.password !== '') return false;
  return prefixes.some((prefix) => {
    let allowed: URL;
    try {
      allowed = new URL(prefix);
    } catch {
      return false;
    }
    if (allowed.origin !== url.origin) return false;
    const base = allowed.pathname.endsWith('/') ? allowed.pathname : `${allowed.pathname}/`;
    return url.pathname === allowed.pathname || url.pathname.startsWith(base);
  });
}
