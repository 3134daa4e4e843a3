// The baseline for GET /users/me: a bare Fastify route answering a small JSON body, on the same machine.
import Fastify from 'fastify';

const app = Fastify({ logger: false });
const user = { id: '00000000-0000-4000-8000-000000000000', email: 'bench@example.com', role: 'user', status: 'active' };
app.get('/users/me', async () => ({ data: user }));
const address = await app.listen({ port: Number(process.env.PORT ?? 0), host: '127.0.0.1' });
process.stdout.write(`${address}\n`);
