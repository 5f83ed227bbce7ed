import 'reflect-metadata';
import { type INestApplicationContext, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { type AppConfig, ConfigModule } from '@artifactstore/config';
import { Database, DbModule } from '@artifactstore/db';
import { EventLog } from '@artifactstore/events';
import { RegistryViewWriter, ViewProjector, ViewsModule } from '@artifactstore/views';

/** The core modules (config, db, events, views) as a Nest application context, without HTTP. */
export interface CoreContext {
  readonly app: INestApplicationContext;
  readonly database: Database;
  readonly eventLog: EventLog;
  readonly projector: ViewProjector;
  readonly viewWriter: RegistryViewWriter;
}

export async function openCore(config: AppConfig): Promise<CoreContext> {
  @Module({ imports: [ConfigModule.forRoot(config), DbModule, ViewsModule] })
  class CoreModule {}
  const app = await NestFactory.createApplicationContext(CoreModule, { logger: false });
  return {
    app,
    database: app.get(Database),
    eventLog: app.get(EventLog),
    projector: app.get(ViewProjector),
    viewWriter: app.get(RegistryViewWriter),
  };
}
