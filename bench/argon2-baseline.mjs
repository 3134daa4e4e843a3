// The baseline for POST /auth/login: raw argon2id hashes per second with the server's parameters and the same
// concurrency, in a process of its own.
import { Algorithm, hash } from '@node-rs/argon2';

const seconds = Number(process.argv[2] ?? 5);
const concurrency = Number(process.argv[3] ?? 4);
const params = { algorithm: Algorithm.Argon2id, memoryCost: 19456, timeCost: 2, parallelism: 1 };
let done = 0;
const deadline = Date.now() + seconds * 1000;
const started = Date.now();
await Promise.all(
  Array.from({ length: concurrency }, async () => {
    while (Date.now() < deadline) {
      await hash('correct horse battery staple', params);
      done += 1;
    }
  }),
);
process.stdout.write(`${JSON.stringify({ perSecond: done / ((Date.now() - started) / 1000) })}\n`);
