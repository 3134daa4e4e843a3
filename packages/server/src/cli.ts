import { parseArgs } from 'node:util';
import { systemClock } from './clock.js';
import { type Environment, loadConfig } from './config/index.js';
import { deriveKey } from './crypto/secret-box.js';
import { migrate, openDatabase } from './db/index.js';
import { AuditLog } from './features/audit/index.js';
import { ensureDefaultProject } from './features/projects/index.js';
import { createAdmin } from './features/users/admin.js';
import { start } from './main.js';

const USAGE = `Usage: gatehouse <command>

Commands:
  start                                  run the server (same as npm start)
  migrate                                apply pending database migrations and exit
  admin create --email E [--password P]  create an admin, or promote an existing account
                                         (the password may also come from GATEHOUSE_ADMIN_PASSWORD)
  audit verify                           check the audit trail's hash chain; exit 1 if a row was
                                         edited, deleted or inserted

Configuration comes from GATEHOUSE_* environment variables (docs/configuration.md).`;

const PROBLEMS = {
  gap: 'an event is missing',
  link: 'the event does not follow the one before it',
  hash: 'the event was altered',
  head: 'the newest events are missing or the chain head was altered',
} as const;

export interface CliIo {
  out(line: string): void;
  err(line: string): void;
}

/** Runs one CLI command; answers the exit code, or null when the command keeps running (start). */
export async function runCli(argv: string[], env: Environment, io: CliIo): Promise<number | null> {
  const [command, subcommand, ...rest] = argv;
  if (command === 'start') {
    await start(env);
    return null;
  }
  if (command === 'migrate') {
    const config = loadConfig(env);
    const database = await openDatabase(config.databaseUrl);
    try {
      const { applied } = await migrate(database);
      io.out(applied.length > 0 ? `applied: ${applied.join(', ')}` : 'database is up to date');
    } finally {
      await database.close();
    }
    return 0;
  }
  if (command === 'admin' && subcommand === 'create') {
    const { values } = parseArgs({ args: rest, options: { email: { type: 'string' }, password: { type: 'string' } } });
    const password = values.password ?? env.GATEHOUSE_ADMIN_PASSWORD;
    if (!values.email || !password) {
      io.err('admin create needs --email and a password (--password or GATEHOUSE_ADMIN_PASSWORD)');
      return 2;
    }
    if (password.length < 8 || password.length > 256) {
      io.err('the password must be 8 to 256 characters');
      return 2;
    }
    const config = loadConfig(env);
    const database = await openDatabase(config.databaseUrl);
    try {
      await migrate(database);
      const projectId = await ensureDefaultProject(database.db, Date.now());
      const outcome = await createAdmin(database.db, {
        projectId,
        email: values.email,
        password,
        passwordParams: {
          memoryCost: config.argon2MemoryCost,
          timeCost: config.argon2TimeCost,
          parallelism: config.argon2Parallelism,
        },
        now: Date.now(),
      });
      io.out(outcome === 'created' ? `admin ${values.email} created` : `${values.email} is an admin`);
    } finally {
      await database.close();
    }
    return 0;
  }
  if (command === 'audit' && subcommand === 'verify') {
    const config = loadConfig(env);
    const database = await openDatabase(config.databaseUrl);
    try {
      const audit = new AuditLog(database, systemClock, deriveKey(config.secret, 'audit-chain'));
      const reports = await audit.verify();
      let intact = true;
      for (const { projectId, checked, problem } of reports) {
        if (problem) {
          intact = false;
          io.err(`project ${projectId}: chain broken at event ${problem.seq} (${PROBLEMS[problem.reason]})`);
        } else {
          io.out(`project ${projectId}: ${checked} events, chain intact`);
        }
      }
      if (reports.length === 0) io.out('no audit events yet');
      return intact ? 0 : 1;
    } finally {
      await database.close();
    }
  }
  io.err(USAGE);
  return command === undefined || command === 'help' || command === '--help' ? 0 : 2;
}
