import { spawn } from 'node:child_process';
import autocannon from 'autocannon';

const env = {
  ...process.env,
  GATEHOUSE_DATA_DIR: '/tmp/prof/data',
  GATEHOUSE_PORT: '4998',
  GATEHOUSE_LOG_LEVEL: 'warn',
  GATEHOUSE_ARGON2_MEMORY_COST: '1024',
  GATEHOUSE_ARGON2_TIME_COST: '1',
};
const child = spawn(process.execPath, ['--cpu-prof', '--cpu-prof-dir=/tmp/prof', 'packages/server/dist/main.js'], {
  env,
  stdio: 'inherit',
});
const base = 'http://127.0.0.1:4998';
for (;;) {
  try {
    if ((await fetch(base + '/health')).ok) break;
  } catch {}
  await new Promise((r) => setTimeout(r, 10));
}
const post = async (p, b) =>
  (await fetch(base + p, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(b) }))
    .json()
    .catch(() => null);
await post('/auth/signup', { email: 'b@example.com', password: 'correct horse battery staple' });
const pool = [];
for (let i = 0; i < 20; i++)
  pool.push(
    (await post('/auth/login', { email: 'b@example.com', password: 'correct horse battery staple' })).data
      .refresh_token,
  );
const t = (await post('/auth/login', { email: 'b@example.com', password: 'correct horse battery staple' })).data;
const which = process.argv[2];
const r =
  which === 'me'
    ? await autocannon({
        url: base + '/users/me',
        connections: 20,
        duration: 10,
        headers: { authorization: `Bearer ${t.access_token}` },
      })
    : await autocannon({
        url: base + '/auth/refresh',
        connections: 20,
        duration: 10,
        requests: [
          {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            setupRequest: (q) => ({ ...q, body: JSON.stringify({ refresh_token: pool.pop() }) }),
            onResponse: (s, b) => {
              if (s === 200) pool.push(/"refresh_token":"([^"]+)"/.exec(b)[1]);
            },
          },
        ],
      });
console.log(r.requests.average, r.non2xx);
child.kill('SIGINT');
await new Promise((r) => child.on('exit', r));
