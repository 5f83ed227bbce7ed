import { Global, Module } from '@nestjs/common';
import { AppConfig } from '@artifactstore/config';
import { Database } from './database.js';

/** Provides the Database, connected and migrated (unless ARTIFACTSTORE_MIGRATE_ON_START=false). */
@Global()
@Module({
  providers: [
    { provide: Database, inject: [AppConfig], useFactory: (config: AppConfig) => Database.open(config) },
  ],
  exports: [Database],
})
export class DbModule {}
