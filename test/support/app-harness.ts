import { Test } from '@nestjs/testing';
import type { INestApplicationContext } from '@nestjs/common';
import { ConfigModule } from '@artifactstore/config';
import { Database, DbModule } from '@artifactstore/db';
import { EventLog } from '@artifactstore/events';
import { RegistryViewWriter, ViewProjector, ViewsModule } from '@artifactstore/views';
import type { TestDatabase } from './test-databases.js';

/** The Nest modules of the core (config, db, events, views) on a test database. */
export interface CoreHarness {
  readonly app: INestApplicationContext;
  readonly database: Database;
  readonly eventLog: EventLog;
  readonly projector: ViewProjector;
  readonly viewWriter: RegistryViewWriter;
  close(): Promise<void>;
}

export async function startCore(testDatabase: TestDatabase): Promise<CoreHarness> {
  const moduleRef = await Test.createTestingModule({
    imports: [ConfigModule.forRoot(testDatabase.config), DbModule, ViewsModule],
  }).compile();
  moduleRef.useLogger(false);
  const app = await moduleRef.init();
  return {
    app,
    database: app.get(Database),
    eventLog: app.get(EventLog),
    projector: app.get(ViewProjector),
    viewWriter: app.get(RegistryViewWriter),
    close: () => app.close(),
  };
}
