import { type DynamicModule, Module } from '@nestjs/common';
import { AppConfig } from './app-config.js';
import { Clock } from './clock.js';
import { loadConfig } from './config.schema.js';

/** Provides the one AppConfig, and the Clock, to every module. `forRoot()` reads process.env; tests pass a config of their own. */
@Module({})
export class ConfigModule {
  static forRoot(config?: AppConfig): DynamicModule {
    return {
      module: ConfigModule,
      global: true,
      providers: [{ provide: AppConfig, useFactory: () => config ?? loadConfig(process.env) }, Clock],
      exports: [AppConfig, Clock],
    };
  }
}
