#!/usr/bin/env node
import { buildApp } from './app.js';
import { loadConfig } from './config/index.js';
import { migrate, openDatabase } from './db/index.js';

/** loadConfig -> openDatabase -> migrate -> buildApp -> listen. */
export async function start(env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const config = loadConfig(env);
  const database = await openDatabase(config.databaseUrl);
  await migrate(database);
  const gatehouse = await buildApp(config, database);
  await gatehouse.app.listen({ port: config.port, host: config.host });
  const stop = async (): Promise<void> => {
    await gatehouse.close();
    await database.close();
    process.exit(0);
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

const isEntry = process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href;
if (isEntry) {
  start().catch((error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  });
}
