import { createReadStream } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import swagger from '@fastify/swagger';
import type { FastifyInstance } from 'fastify';

/** The OpenAPI document is generated from the same TypeBox schemas that validate requests. */
export async function registerOpenApi(
  app: FastifyInstance,
  options: { publicUrl: string; version: string },
): Promise<void> {
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: { title: 'Gatehouse', version: options.version, description: 'Self-hosted authentication server.' },
      servers: [{ url: options.publicUrl }],
      components: {
        securitySchemes: {
          bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' },
          sessionCookie: { type: 'apiKey', in: 'cookie', name: 'gatehouse_session_token' },
          apiKey: {
            type: 'apiKey',
            in: 'header',
            name: 'X-API-Key',
            description: 'A personal (gatehouse_pat_) or secret (gatehouse_sk_) key; also accepted as a Bearer token.',
          },
        },
      },
    },
  });
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  registerDocsPage(app);
}

/** The files of swagger-ui-dist the page loads, with their types; nothing else of the folder is served. */
const DOCS_FILES: Record<string, string> = {
  'swagger-ui.css': 'text/css; charset=utf-8',
  'swagger-ui-bundle.js': 'text/javascript; charset=utf-8',
  'favicon-32x32.png': 'image/png',
};

/** Swagger UI draws with inline styles and data: images; everything else comes from this server. */
const DOCS_CSP =
  "default-src 'self'; base-uri 'self'; connect-src 'self'; img-src 'self' data:; object-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'";

const DOCS_PAGE = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Gatehouse API</title>
<link rel="stylesheet" href="static/swagger-ui.css">
<link rel="icon" type="image/png" href="static/favicon-32x32.png">
</head>
<body>
<div id="swagger-ui"></div>
<script src="static/swagger-ui-bundle.js"></script>
<script src="static/init.js"></script>
</body>
</html>
`;

// A file rather than an inline script, so the page's policy can stay script-src 'self'.
const DOCS_INIT = `window.ui = SwaggerUIBundle({
  url: new URL('../openapi.json', window.location.href).href,
  dom_id: '#swagger-ui',
  deepLinking: true,
  presets: [SwaggerUIBundle.presets.apis],
});
`;

/**
 * The API reference at /docs: Swagger UI (swagger-ui-dist) reading /openapi.json. Three routes and the package's
 * own files, so nothing is read or registered per file at start-up.
 */
function registerDocsPage(app: FastifyInstance): void {
  const folder = dirname(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'));
  const hide = { schema: { hide: true } };
  app.get('/docs', hide, async (request, reply) => {
    // The page's links are relative to /docs/.
    if (!request.url.split('?')[0]?.endsWith('/')) return reply.redirect('/docs/');
    return reply.header('content-security-policy', DOCS_CSP).type('text/html; charset=utf-8').send(DOCS_PAGE);
  });
  app.get('/docs/static/init.js', hide, async (_request, reply) =>
    reply.header('cache-control', 'public, max-age=3600').type('text/javascript; charset=utf-8').send(DOCS_INIT),
  );
  app.get<{ Params: { file: string } }>('/docs/static/:file', hide, async (request, reply) => {
    const type = Object.hasOwn(DOCS_FILES, request.params.file) ? DOCS_FILES[request.params.file] : undefined;
    if (type === undefined) return reply.callNotFound();
    return reply
      .header('cache-control', 'public, max-age=3600')
      .type(type)
      .send(createReadStream(join(folder, request.params.file)));
  });
}
