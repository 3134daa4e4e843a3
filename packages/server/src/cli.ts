import { parseArgs } from 'node:util';
import { type Environment, loadConfig } from './config/index.js';
import { migrate, openDatabase } from './db/index.js';
import { ensureDefaultProject } from './features/projects/index.js';
import { createAdmin } from './features/users/admin.js';
import { start } from './main.js';

const USAGE = `Usage: gatehouse <command>

Commands:
  start                                  run the server (same as npm start)
  migrate                                apply pending database migrations and exit
  admin create --email E [--password P]  create an admin, or promote an existing account
                                         (the password may also come from GATEHOUSE_ADMIN_PASSWORD)

Configuration comes from GATEHOUSE_* environment variables (docs/configuration.md).`;

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
  io.err(USAGE);
  return command === undefined || command === 'help' || command === '--help' ? 0 : 2;
}
