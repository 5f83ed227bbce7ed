import { type DynamicModule, Module } from '@nestjs/common';
import { type AppConfig, ConfigModule } from '@artifactstore/config';
import { DbModule } from '@artifactstore/db';
import { RegistryModule } from '@artifactstore/registry';
import { HealthController } from './health.controller.js';

/** The server's root module. The HTTP API module joins it in a later issue. */
@Module({})
export class AppModule {
  static forRoot(config: AppConfig): DynamicModule {
    return {
      module: AppModule,
      imports: [ConfigModule.forRoot(config), DbModule, RegistryModule],
      controllers: [HealthController],
    };
  }
}
