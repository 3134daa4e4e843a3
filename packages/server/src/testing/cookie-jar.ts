/**
 * A `fetch` that keeps cookies like a browser on the public origin: it stores Set-Cookie answers, sends back
 * those whose Path matches, drops expired ones, and sends the page's Origin on every request (as browsers do on
 * POST). Node's fetch has no cookie store, and the Directus SDK relies on the browser's in cookie and session modes.
 */
export function createBrowserFetch(origin: string): {
  fetch: typeof fetch;
  cookies: Map<string, { value: string; path: string }>;
} {
  const cookies = new Map<string, { value: string; path: string }>();
  const browserFetch: typeof fetch = async (input, init = {}) => {
    const url = new URL(typeof input === 'string' || input instanceof URL ? input : input.url);
    const headers = new Headers(init.headers);
    headers.set('origin', origin);
    const sent = [...cookies].filter(
      ([, cookie]) =>
        url.pathname === cookie.path ||
        url.pathname.startsWith(cookie.path.endsWith('/') ? cookie.path : `${cookie.path}/`),
    );
    if (sent.length > 0) headers.set('cookie', sent.map(([name, cookie]) => `${name}=${cookie.value}`).join('; '));
    const response = await fetch(url, { ...init, headers });
    for (const line of response.headers.getSetCookie()) {
      const [pair = '', ...attributes] = line.split(';').map((part) => part.trim());
      const index = pair.indexOf('=');
      const name = pair.slice(0, index);
      const value = pair.slice(index + 1);
      const attribute = (key: string) => attributes.find((a) => a.toLowerCase().startsWith(`${key}=`))?.split('=')[1];
      const maxAge = attribute('max-age');
      const expires = attribute('expires');
      const expired = value === '' || maxAge === '0' || (expires !== undefined && Date.parse(expires) <= Date.now());
      if (expired) cookies.delete(name);
      else cookies.set(name, { value, path: attribute('path') ?? '/' });
    }
    return response;
  };
  return { fetch: browserFetch, cookies };
}
