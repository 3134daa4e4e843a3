// Gatehouse benchmarks. Each figure is printed beside a baseline measured in the same run on the same machine,
// and the load always comes from this process, a different one from the server under test, over 127.0.0.1.
// Usage: npm run bench [-- --seconds 10] [-- --only api-keys]
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..');
const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '8' },
    connections: { type: 'string', default: '20' },
    rounds: { type: 'string', default: '4' },
    // `api-keys`: start-up, memory and the API key measure only (a quick run while working on key verification).
    only: { type: 'string' },
  },
});
const ONLY = values.only ?? null;
const SECONDS = Number(values.seconds);
const CONNECTIONS = Number(values.connections);
// Each measure and its baseline take turns, ROUNDS times, SECONDS / ROUNDS each: on a shared machine the load from
// other processes drifts within seconds, and alternating spreads that drift over both sides instead of one.
const ROUNDS = Math.max(1, Number(values.rounds));
const ROUND_SECONDS = Math.max(1, Math.round(SECONDS / ROUNDS));
const PASSWORD = 'correct horse battery staple';
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function launch(script, env = {}, args = []) {
  const child = spawn(process.execPath, [script, ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk) => {
    stderr += chunk;
  });
  child.on('exit', (code) => {
    if (code && code !== 0 && !child.killedByUs) process.stderr.write(`${script} exited with ${code}\n${stderr}\n`);
  });
  return child;
}

function stop(child) {
  child.killedByUs = true;
  child.kill('SIGTERM');
}

async function run(script, args) {
  const child = spawn(process.execPath, [join(here, script), ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (chunk) => {
    out += chunk;
  });
  await new Promise((resolve) => child.on('exit', resolve));
  return JSON.parse(out.trim().split('\n').pop());
}

function load(options) {
  return new Promise((resolve, reject) => {
    autocannon({ duration: ROUND_SECONDS, connections: CONNECTIONS, ...options }, (error, result) =>
      error ? reject(error) : resolve(result),
    );
  });
}

/** Requests per second over all rounds of one side. */
const perSecond = (results) =>
  results.reduce((sum, result) => sum + result.requests.total, 0) /
  results.reduce((sum, result) => sum + result.duration, 0);

const mean = (values) => values.reduce((sum, value) => sum + value, 0) / values.length;

/** User and system CPU time of a process so far, in milliseconds. */
function cpuMs(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  // utime and stime are fields 14 and 15 of /proc/<pid>/stat, in clock ticks (100 per second on Linux).
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

const cpuNotes = [];

function rssMb(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)[1]) / 1024;
}

async function post(base, path, body) {
  const response = await fetch(`${base}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${path}: ${response.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

const rows = [];
function report(name, value, unit, baselineName, baseline, goal) {
  const ratio = baseline ? value / baseline : null;
  const met = goal.kind === 'ratio' ? ratio >= goal.value : goal.kind === 'max' ? value < goal.value : true;
  rows.push({ name, value, unit, baselineName, baseline, ratio, goal: goal.text, met });
}

const dataDir = mkdtempSync(join(tmpdir(), 'gatehouse-bench-'));
const port = 4600 + Math.floor(Math.random() * 300);
const base = `http://127.0.0.1:${port}`;
const env = {
  GATEHOUSE_DATA_DIR: dataDir,
  GATEHOUSE_PORT: String(port),
  GATEHOUSE_LOG_LEVEL: 'warn',
  GATEHOUSE_PUBLIC_URL: base,
  // One client hammering one account from one address: the limits would answer 429 to almost all of it, and
  // the measures are of the work behind them (the limits' own cost is one in-memory count per request).
  GATEHOUSE_RATE_LIMIT_IP: 'off',
  GATEHOUSE_RATE_LIMIT_LOGIN: 'off',
  NODE_ENV: 'development',
};

// 1. Start-up time and idle memory, of what `npm start` runs.
const GATEHOUSE = join(root, 'packages/server/bin/gatehouse.js');

/** Starts `script` and answers it with the milliseconds from spawn to the first 200 on `url`. */
async function timedStart(script, childEnv, args, url) {
  const started = performance.now();
  const child = launch(script, childEnv, args);
  for (let i = 0; i < 2000; i++) {
    try {
      const response = await fetch(url);
      if (response.status === 200) return { child, ms: performance.now() - started };
    } catch {
      await sleep(5);
    }
  }
  throw new Error(`${script} did not start`);
}

const first = await timedStart(GATEHOUSE, env, ['start'], `${base}/health`);
const startupMs = first.ms;
// A second start on the migrated database (the usual restart) is the figure that matters most.
stop(first.child);
await new Promise((resolve) => first.child.on('exit', resolve));
const { child: gatehouse, ms: restartMs } = await timedStart(GATEHOUSE, env, ['start'], `${base}/health`);
await sleep(1000);
const idleRss = rssMb(gatehouse.pid);
// The goal is absolute, but how long Node takes to start differs a lot between machines: a bare Fastify process
// (one route, nothing else) started the same way shows what this machine gives any Node server.
const barePort = port + 300;
const bareStart = await timedStart(
  join(here, 'bare-server.mjs'),
  { PORT: String(barePort) },
  [],
  `http://127.0.0.1:${barePort}/users/me`,
);
const bareStartMs = bareStart.ms;
stop(bareStart.child);
report('start to first 200 on /health (fresh data dir)', startupMs, 'ms', 'bare Fastify process', bareStartMs, {
  kind: 'max',
  value: 500,
  text: '< 500 ms',
});
report('start to first 200 on /health (restart)', restartMs, 'ms', 'bare Fastify process', bareStartMs, {
  kind: 'max',
  value: 500,
  text: '< 500 ms',
});
report('idle RSS', idleRss, 'MB', null, null, { kind: 'max', value: 120, text: '< 120 MB' });

// 2. GET /users/me against a bare Fastify route.
await post(base, '/auth/signup', { email: 'bench@example.com', password: PASSWORD });
const { data: session } = await post(base, '/auth/login', { email: 'bench@example.com', password: PASSWORD });
const meHeaders = { authorization: `Bearer ${session.access_token}` };
if (ONLY === null) {
  const bare = launch(join(here, 'bare-server.mjs'));
  const bareUrl = await new Promise((resolve) => bare.stdout.once('data', (chunk) => resolve(String(chunk).trim())));
  const bareResults = [];
  const meResults = [];
  for (let round = 0; round < ROUNDS; round++) {
    bareResults.push(await load({ url: `${bareUrl}/users/me`, headers: meHeaders }));
    const meResult = await load({ url: `${base}/users/me`, headers: meHeaders });
    if (meResult.non2xx > 0) throw new Error(`/users/me answered ${meResult.non2xx} non-2xx`);
    meResults.push(meResult);
  }
  stop(bare);
  report('GET /users/me', perSecond(meResults), 'req/s', 'bare Fastify route', perSecond(bareResults), {
    kind: 'ratio',
    value: 0.5,
    text: '>= 0.5',
  });
}

// 3. GET /users/me authenticated by a personal API key against the same route with an access token: key
// verification (checksum, SHA-256, cache, revocation list) beside JWT verification (its own cache).
{
  const created = await fetch(`${base}/users/me/api-keys`, {
    method: 'POST',
    headers: { ...meHeaders, 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'bench' }),
  });
  if (created.status !== 201) throw new Error(`creating an API key: ${created.status} ${await created.text()}`);
  const keyHeaders = { 'x-api-key': (await created.json()).data.key };
  const tokenResults = [];
  const keyResults = [];
  // Server CPU time per request as well (from /proc): on a busy machine it moves less than throughput does.
  const cpu = { token: 0, key: 0 };
  for (let round = 0; round < ROUNDS; round++) {
    let before = cpuMs(gatehouse.pid);
    const tokenResult = await load({ url: `${base}/users/me`, headers: meHeaders });
    cpu.token += cpuMs(gatehouse.pid) - before;
    before = cpuMs(gatehouse.pid);
    const keyResult = await load({ url: `${base}/users/me`, headers: keyHeaders });
    cpu.key += cpuMs(gatehouse.pid) - before;
    if (tokenResult.non2xx + keyResult.non2xx > 0) throw new Error('/users/me answered non-2xx');
    tokenResults.push(tokenResult);
    keyResults.push(keyResult);
  }
  const total = (results) => results.reduce((sum, result) => sum + result.requests.total, 0);
  cpuNotes.push(
    `GET /users/me server CPU per request: API key ${((cpu.key * 1000) / total(keyResults)).toFixed(0)} µs, access token ${((cpu.token * 1000) / total(tokenResults)).toFixed(0)} µs`,
  );
  report(
    'GET /users/me with an API key',
    perSecond(keyResults),
    'req/s',
    'same route, access token',
    perSecond(tokenResults),
    {
      kind: 'ratio',
      value: 0.8,
      text: '>= 0.8',
    },
  );
}

if (ONLY === null) {
  // 4. POST /auth/login against raw argon2id, taking turns like the measures above.
  const argonRates = [];
  const loginResults = [];
  for (let round = 0; round < ROUNDS; round++) {
    argonRates.push((await run('argon2-baseline.mjs', [String(ROUND_SECONDS), '4'])).perSecond);
    const loginResult = await load({
      url: `${base}/auth/login`,
      method: 'POST',
      connections: 8,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: 'bench@example.com', password: PASSWORD }),
    });
    if (loginResult.non2xx > 0) throw new Error(`/auth/login answered ${loginResult.non2xx} non-2xx`);
    loginResults.push(loginResult);
  }
  report('POST /auth/login', perSecond(loginResults), 'logins/s', 'raw argon2id hashes/s', mean(argonRates), {
    kind: 'ratio',
    value: 0.8,
    text: '>= 0.8',
  });

  // 5. POST /auth/refresh against the same storage work in raw better-sqlite3. A pool holds one live token per
  // connection: each request takes one, and its answer puts the successor back.
  // Answers still in flight when a round ends are dropped with their tokens, so each round tops the pool up first.
  const pool = [];
  const sqliteRates = [];
  const refreshResults = [];
  for (let round = 0; round < ROUNDS; round++) {
    while (pool.length < CONNECTIONS) {
      pool.push(
        (await post(base, '/auth/login', { email: 'bench@example.com', password: PASSWORD })).data.refresh_token,
      );
    }
    sqliteRates.push((await run('sqlite-baseline.mjs', [String(ROUND_SECONDS)])).perSecond);
    const refreshResult = await load({
      url: `${base}/auth/refresh`,
      requests: [
        {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          setupRequest(request) {
            return { ...request, body: JSON.stringify({ refresh_token: pool.pop() }) };
          },
          onResponse(status, body) {
            // A regular expression rather than JSON.parse keeps the load generator's own CPU use low.
            if (status === 200) pool.push(/"refresh_token":"([^"]+)"/.exec(body)[1]);
          },
        },
      ],
    });
    if (refreshResult.non2xx > 0) throw new Error(`/auth/refresh answered ${refreshResult.non2xx} non-2xx`);
    refreshResults.push(refreshResult);
  }
  report(
    'POST /auth/refresh',
    perSecond(refreshResults),
    'refreshes/s',
    'raw better-sqlite3 rotation/s',
    mean(sqliteRates),
    { kind: 'ratio', value: 0.3, text: '>= 0.3' },
  );
}

stop(gatehouse);
rmSync(dataDir, { recursive: true, force: true });

const fmt = (n) => (n === null ? '' : n >= 100 ? Math.round(n).toString() : n.toFixed(1));
console.log(
  `\nGatehouse benchmarks (${SECONDS}s per load in ${ROUNDS} alternating rounds, ${CONNECTIONS} connections, node ${process.version})\n`,
);
console.log('| measure | Gatehouse | baseline | ratio | goal | met |');
console.log('|---|---|---|---|---|---|');
for (const row of rows) {
  const baseline = row.baseline === null ? '' : `${fmt(row.baseline)} ${row.unit} (${row.baselineName})`;
  console.log(
    `| ${row.name} | ${fmt(row.value)} ${row.unit} | ${baseline} | ${row.ratio === null ? '' : row.ratio.toFixed(2)} | ${row.goal} | ${row.met ? 'yes' : 'NO'} |`,
  );
}
for (const note of cpuNotes) console.log(`\n${note}`);
process.exit(0);
