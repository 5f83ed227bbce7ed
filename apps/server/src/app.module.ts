import { type DynamicModule, Module } from '@nestjs/common';
import { type AppConfig, ConfigModule } from '@artifactstore/config';
import { DataplaneModule } from '@artifactstore/dataplane';
import { DbModule } from '@artifactstore/db';
import { ViewsModule } from '@artifactstore/views';
import { HealthController } from './health.controller.js';

/** The server's root module. The registry and HTTP API modules join it in later issues. */
@Module({})
export class AppModule {
  static forRoot(config: AppConfig): DynamicModule {
    return {
      module: AppModule,
      imports: [ConfigModule.forRoot(config), DbModule, ViewsModule, DataplaneModule],
      controllers: [HealthController],
    };
  }
}
