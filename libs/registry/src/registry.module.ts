import { Module } from '@nestjs/common';
import { DataplaneModule } from '@artifactstore/dataplane';
import { ViewsModule } from '@artifactstore/views';
import { Registry } from './registry.service.js';

/** The domain service. Needs the database (DbModule) and the config (ConfigModule) from the root module. */
@Module({
  imports: [ViewsModule, DataplaneModule],
  providers: [Registry],
  exports: [Registry],
})
export class RegistryModule {}
