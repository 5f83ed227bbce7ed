import { openCore, type CoreContext } from './core-context.js';
import type { TestDatabase } from './test-databases.js';

/** The Nest modules of the core (config, db, events, views) on a test database. */
export interface CoreHarness extends CoreContext {
  close(): Promise<void>;
}

export async function startCore(testDatabase: TestDatabase): Promise<CoreHarness> {
  const core = await openCore(testDatabase.config);
  return { ...core, close: () => core.app.close() };
}
