// @gatehouse/sdk/verify beside raw jose, in the same process and run: verified tokens per second for distinct
// tokens (every one a signature check) and for one repeated token (served from the verifier's cache).
// Usage: npm run bench:sdk [-- --tokens 4000 --rounds 4]
import { createServer } from 'node:http';
import { parseArgs } from 'node:util';
import { createLocalJWKSet, exportJWK, generateKeyPair, jwtVerify, SignJWT } from 'jose';
import { createVerifier } from '../packages/sdk/dist/verify/index.js';

const { values } = parseArgs({
  options: { tokens: { type: 'string', default: '4000' }, rounds: { type: 'string', default: '4' } },
});
const TOKENS = Number(values.tokens);
const ROUNDS = Math.max(1, Number(values.rounds));
const ISSUER = 'https://auth.example.test';
const AUDIENCE = 'gatehouse';

const { publicKey, privateKey } = await generateKeyPair('ES256');
const jwk = { ...(await exportJWK(publicKey)), kid: 'bench', alg: 'ES256', use: 'sig' };
const jwks = { keys: [jwk] };
const server = createServer((_request, response) => {
  response.setHeader('content-type', 'application/json');
  response.end(JSON.stringify(jwks));
});
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const jwksUrl = `http://127.0.0.1:${server.address().port}/jwks.json`;

const sign = (i) =>
  new SignJWT({ sid: `s${i}`, role: 'user', permissions: ['reports:read'], project: 'p', token_use: 'access' })
    .setProtectedHeader({ alg: 'ES256', kid: 'bench' })
    .setIssuer(ISSUER)
    .setAudience(AUDIENCE)
    .setSubject(`user-${i}`)
    .setIssuedAt()
    .setExpirationTime('15m')
    .setJti(`jti-${i}`)
    .sign(privateKey);
// One set of tokens per round and side, so the verifier's cache never answers the distinct-token measure.
const rounds = [];
for (let r = 0; r < ROUNDS; r++) {
  rounds.push({
    raw: await Promise.all(Array.from({ length: TOKENS }, (_, i) => sign(r * 2 * TOKENS + i))),
    sdk: await Promise.all(Array.from({ length: TOKENS }, (_, i) => sign((r * 2 + 1) * TOKENS + i))),
  });
}

const localKeys = createLocalJWKSet(jwks);
const rawOptions = { issuer: ISSUER, audience: AUDIENCE, algorithms: ['ES256', 'EdDSA', 'RS256'], clockTolerance: 5 };
const rawVerify = (token) => jwtVerify(token, localKeys, rawOptions);
const verifier = createVerifier({ issuer: ISSUER, audience: AUDIENCE, jwksUrl, cacheSize: 1000 });
const sdkVerify = async (token) => {
  const result = await verifier.verify(token);
  if (!result.ok) throw result.error;
};

async function timed(tokens, verify) {
  const start = process.hrtime.bigint();
  for (const token of tokens) await verify(token);
  return { count: tokens.length, ns: Number(process.hrtime.bigint() - start) };
}

// Warm-up: fetch the JWKS once and let both paths get optimized (the first thousands of verifications run
// several times slower while V8 and WebCrypto warm up, which would fall on whichever side went first).
const warm = await Promise.all(Array.from({ length: 3000 }, (_, i) => sign(10_000_000 + i)));
for (let i = 0; i < 2; i++) {
  await timed(warm, rawVerify);
  await timed(warm, sdkVerify);
}

const totals = {
  raw: { count: 0, ns: 0 },
  sdk: { count: 0, ns: 0 },
  rawRepeat: { count: 0, ns: 0 },
  sdkRepeat: { count: 0, ns: 0 },
};
const add = (key, { count, ns }) => {
  totals[key].count += count;
  totals[key].ns += ns;
};
const repeated = Array.from({ length: TOKENS }, () => warm[0]);
const CHUNK = 200;
// Verifier speed over raw speed for each back-to-back pair of chunks: their median shrugs off load spikes that hit
// one chunk, which the totals do not.
const pairRatios = [];
for (let r = 0; r < ROUNDS; r++) {
  // Small alternating chunks, the side going first switching each round: on a shared machine the load drifts within
  // seconds, and this spreads the drift evenly over both sides.
  for (let start = 0; start < TOKENS; start += CHUNK) {
    const pair = {};
    const measure = async (side) => {
      const tokens = rounds[r][side].slice(start, start + CHUNK);
      pair[side] = await timed(tokens, side === 'raw' ? rawVerify : sdkVerify);
      add(side, pair[side]);
    };
    const order = (r + start / CHUNK) % 2 === 0 ? ['raw', 'sdk'] : ['sdk', 'raw'];
    for (const side of order) await measure(side);
    pairRatios.push(pair.raw.ns / pair.sdk.ns);
  }
  add('rawRepeat', await timed(repeated, rawVerify));
  add('sdkRepeat', await timed(repeated, sdkVerify));
}
server.close();

const perSecond = ({ count, ns }) => (count / ns) * 1e9;
const row = (name, sdk, raw, goal) => {
  const ratio = perSecond(sdk) / perSecond(raw);
  return `| ${name} | ${Math.round(perSecond(sdk))} | ${Math.round(perSecond(raw))} | ${ratio.toFixed(2)} | ${goal} |`;
};
console.log(`ES256, ${TOKENS} tokens x ${ROUNDS} rounds per side, Node ${process.version}`);
console.log('| measure | verifier/s | raw jose/s | ratio | goal |');
console.log('|---|---|---|---|---|');
console.log(row('distinct tokens', totals.sdk, totals.raw, '>= 0.95'));
const sorted = pairRatios.sort((a, b) => a - b);
const median = sorted[Math.floor(sorted.length / 2)];
console.log(`| distinct tokens, median of ${sorted.length} paired chunks | | | ${median.toFixed(2)} | >= 0.95 |`);
console.log(row('one repeated token', totals.sdkRepeat, totals.rawRepeat, '(cache)'));
