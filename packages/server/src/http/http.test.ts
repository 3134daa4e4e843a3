import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestServer, type TestServer } from '../testing/test-server.js';

let server: TestServer;
beforeAll(async () => {
  server = await createTestServer();
});
afterAll(async () => {
  await server.close();
});

describe('envelope', () => {
  it('answers an unknown route with 404 ROUTE_NOT_FOUND in the error envelope', async () => {
    const response = await server.app.inject({ method: 'GET', url: '/nope?x=1' });
    expect(response.statusCode).toBe(404);
    expect(response.headers['content-type']).toMatch(/^application\/json/);
    expect(response.json()).toEqual({
      errors: [{ message: "Route /nope doesn't exist.", extensions: { code: 'ROUTE_NOT_FOUND' } }],
    });
  });

  it('refuses a body that is not JSON with 415', async () => {
    const response = await server.app.inject({
      method: 'POST',
      url: '/auth/login',
      headers: { 'content-type': 'text/plain' },
      body: 'hi',
    });
    expect(response.statusCode).toBe(415);
    expect(response.json().errors[0].extensions.code).toBe('UNSUPPORTED_MEDIA_TYPE');
  });

  it('refuses a malformed Authorization header with 400', async () => {
    const response = await server.app.inject({
      method: 'GET',
      url: '/users/me',
      headers: { authorization: 'Basic abc' },
    });
    expect(response.statusCode).toBe(400);
  });

  it('sets security headers and no-store on every answer', async () => {
    const response = await server.app.inject({ method: 'GET', url: '/health' });
    expect(response.headers).toMatchObject({
      'x-content-type-options': 'nosniff',
      'x-frame-options': 'DENY',
      'referrer-policy': 'no-referrer',
      'cache-control': 'no-store',
    });
  });
});

describe('operations', () => {
  it('reports health and readiness', async () => {
    expect((await server.app.inject({ method: 'GET', url: '/health' })).json()).toEqual({ data: { status: 'ok' } });
    expect((await server.app.inject({ method: 'GET', url: '/ready' })).json()).toEqual({ data: { status: 'ok' } });
  });

  it('publishes an OpenAPI document generated from the route schemas, and a docs page', async () => {
    const spec = (await server.app.inject({ method: 'GET', url: '/openapi.json' })).json();
    expect(spec.openapi).toBe('3.1.0');
    for (const path of [
      '/auth/login',
      '/auth/refresh',
      '/auth/logout',
      '/auth/logout/all',
      '/auth/signup',
      '/users/me',
      '/users/me/sessions',
      '/users/me/sessions/{id}',
      '/.well-known/jwks.json',
      '/health',
      '/ready',
    ]) {
      expect(spec.paths, path).toHaveProperty([path]);
    }
    const login = spec.paths['/auth/login'].post;
    expect(login.requestBody.content['application/json'].schema.properties).toHaveProperty('email');
    expect(login.requestBody.content['application/json'].schema.properties.mode).toBeDefined();
    const docs = await server.app.inject({ method: 'GET', url: '/docs/' });
    expect(docs.statusCode).toBe(200);
    expect(docs.headers['content-type']).toMatch(/text\/html/);
    expect(docs.headers['content-security-policy']).toContain("script-src 'self'");
    expect(docs.body).toContain('static/swagger-ui-bundle.js');
    // Without the slash the page's relative links would miss: it sends the browser to the slashed address.
    const bare = await server.app.inject({ method: 'GET', url: '/docs' });
    expect(bare.statusCode).toBe(302);
    expect(bare.headers.location).toBe('/docs/');
    const init = await server.app.inject({ method: 'GET', url: '/docs/static/init.js' });
    expect(init.body).toContain("new URL('../openapi.json'");
    const script = await server.app.inject({ method: 'GET', url: '/docs/static/swagger-ui-bundle.js' });
    expect(script.statusCode).toBe(200);
    expect(script.headers['content-type']).toMatch(/javascript/);
    expect(script.body).toContain('SwaggerUIBundle');
    // Only the files the page uses, never another path of the package folder.
    for (const path of ['package.json', 'index.js', '..%2Fpackage.json', 'swagger-ui-bundle.js.map']) {
      const refused = await server.app.inject({ method: 'GET', url: `/docs/static/${path}` });
      expect(refused.statusCode, path).toBe(404);
    }
  });
});

describe('readiness without a database', () => {
  it('answers 503 SERVICE_UNAVAILABLE', async () => {
    const other = await createTestServer();
    try {
      await other.database.close();
      const response = await other.app.inject({ method: 'GET', url: '/ready' });
      expect(response.statusCode).toBe(503);
      expect(response.json().errors[0].extensions.code).toBe('SERVICE_UNAVAILABLE');
    } finally {
      await other.close().catch(() => {});
    }
  });
});
