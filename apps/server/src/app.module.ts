import { type DynamicModule, Module } from '@nestjs/common';
import { ApiModule } from '@artifactstore/api';
import { type AppConfig, ConfigModule } from '@artifactstore/config';
import { DbModule } from '@artifactstore/db';

/** The server's root module: the configuration and the database for everything below, and the HTTP API. */
@Module({})
export class AppModule {
  static forRoot(config: AppConfig): DynamicModule {
    return {
      module: AppModule,
      imports: [ConfigModule.forRoot(config), DbModule, ApiModule],
    };
  }
}
