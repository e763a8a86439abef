/**
 * The explicit migration step (`npm run migrate`), never run by a request. It creates the database when it
 * is missing (local development; on Neon the database exists and this is a no-op) and holds an advisory
 * lock so that two deploys migrating at once run one after the other.
 */
import pg from 'pg';
import { connectDatabase, type DatabaseOptions } from './connect.ts';

/** Creates the database named in `url` when the server says it does not exist. */
export async function ensureDatabaseExists(url: string): Promise<boolean> {
  const probe = new pg.Client({ connectionString: url });
  try {
    await probe.connect();
    return false;
  } catch (err) {
    if ((err as { code?: string }).code !== '3D000') throw err;
  } finally {
    await probe.end().catch(() => undefined);
  }
  const target = new URL(url);
  const name = decodeURIComponent(target.pathname.replace(/^\//, ''));
  target.pathname = '/postgres';
  const admin = new pg.Client({ connectionString: target.toString() });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${pg.escapeIdentifier(name)}`);
  } catch (err) {
    // Another process created it between our probe and now (42P04), or at the same instant (23505).
    const code = (err as { code?: string }).code;
    if (code !== '42P04' && code !== '23505') throw err;
  } finally {
    await admin.end();
  }
  return true;
}

export interface MigrationReport {
  createdDatabase: boolean;
  applied: string[];
}

export async function migrateDatabase(options: DatabaseOptions): Promise<MigrationReport> {
  const createdDatabase = await ensureDatabaseExists(options.url);
  const lock = new pg.Client({ connectionString: options.url });
  await lock.connect();
  try {
    await lock.query('SELECT pg_advisory_lock(hashtext($1))', [`migrate:${options.schema}`]);
    const orm = await connectDatabase(options);
    try {
      const applied = await orm.migrator.up();
      return { createdDatabase, applied: applied.map((m) => m.name) };
    } finally {
      await orm.close();
    }
  } finally {
    await lock.end();
  }
}
