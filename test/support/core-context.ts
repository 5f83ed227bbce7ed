import 'reflect-metadata';
import { type INestApplicationContext, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { type AppConfig, ConfigModule } from '@artifactstore/config';
import { Database, DbModule } from '@artifactstore/db';
import { BlobStore } from '@artifactstore/dataplane';
import { EventLog } from '@artifactstore/events';
import { Registry, RegistryModule } from '@artifactstore/registry';
import { RegistryViewWriter, ViewProjector, ViewsModule } from '@artifactstore/views';

/** The core modules (config, db, events, views, dataplane, registry) as a Nest application context, without HTTP. */
export interface CoreContext {
  readonly app: INestApplicationContext;
  readonly database: Database;
  readonly eventLog: EventLog;
  readonly projector: ViewProjector;
  readonly viewWriter: RegistryViewWriter;
  readonly blobStore: BlobStore;
  readonly registry: Registry;
}

export async function openCore(config: AppConfig): Promise<CoreContext> {
  @Module({ imports: [ConfigModule.forRoot(config), DbModule, ViewsModule, RegistryModule] })
  class CoreModule {}
  const app = await NestFactory.createApplicationContext(CoreModule, { logger: false });
  return {
    app,
    database: app.get(Database),
    eventLog: app.get(EventLog),
    projector: app.get(ViewProjector),
    viewWriter: app.get(RegistryViewWriter),
    blobStore: app.get(BlobStore),
    registry: app.get(Registry),
  };
}
