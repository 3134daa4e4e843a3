import { isAllowedUrl } from '../../http/allowed-url.js';

/**
 * Where a provider flow may send the browser afterwards: a relative path (on the public URL), a URL on the public
 * URL's origin, or one under GATEHOUSE_REDIRECT_ALLOW_LIST. Anything else is an open redirect and answers null.
 * Protocol-relative (`//evil.test`) and backslash (`/\evil.test`) paths are not relative paths: browsers read
 * them as another host.
 */
export function checkRedirect(raw: string, publicUrl: string, allowList: readonly string[]): string | null {
  const origin = new URL(publicUrl).origin;
  if (raw.startsWith('/')) {
    if (raw.startsWith('//') || raw.startsWith('/\\')) return null;
    // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused
    if (/[\u0000-\u001f\u007f\\]/.test(raw)) return null;
    let resolved: URL;
    try {
      resolved = new URL(raw, origin);
    } catch {
      return null;
    }
    return resolved.origin === origin ? resolved.toString() : null;
  }
  return isAllowedUrl(raw, [`${origin}/`, ...allowList]) ? new URL(raw).toString() : null;
}
