// The baseline for GET /users/me: a bare Fastify route on the same machine, answering a body of the same shape
// and size as Gatehouse's (the load sends it the same Authorization header), with no authentication or storage.
import Fastify from 'fastify';

const app = Fastify({ logger: false });
const user = {
  id: '6f1c2a34-6f55-4a8b-9b9e-3c8f0b3f7a21',
  email: 'bench@example.com',
  first_name: null,
  last_name: null,
  language: null,
  title: null,
  location: null,
  description: null,
  avatar: null,
  status: 'active',
  role: 'user',
  email_verified: false,
  provider: 'default',
  last_access: '2026-11-25T09:00:00.000Z',
  created_at: '2026-11-25T09:00:00.000Z',
};
app.get('/users/me', async () => ({ data: user }));
const address = await app.listen({ port: Number(process.env.PORT ?? 0), host: '127.0.0.1' });
process.stdout.write(`${address}\n`);
