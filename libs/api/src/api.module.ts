import { Module } from '@nestjs/common';
import { APP_FILTER, APP_GUARD, APP_INTERCEPTOR } from '@nestjs/core';
import { RegistryModule } from '@artifactstore/registry';
import { AdminController } from './admin.controller.js';
import { AuthGuard } from './auth.guard.js';
import { EventsController } from './events.controller.js';
import { EventsStreamController } from './events-stream.controller.js';
import { FilesController } from './files.controller.js';
import { HealthController } from './health.controller.js';
import { ManifestsController } from './manifests.controller.js';
import { MetricsController } from './metrics.controller.js';
import { Metrics } from './metrics.service.js';
import { PackagesController } from './packages.controller.js';
import { TagsController } from './tags.controller.js';
import { TransparencyLogController } from './transparency-log.controller.js';
import { TusUploadsController } from './tus-uploads.controller.js';
import { ProblemFilter } from './problem.filter.js';
import { ReadOnlyMirrorGuard } from './read-only-mirror.guard.js';
import { RequestDrain } from './request-drain.js';
import { RequestDrainInterceptor } from './request-drain.interceptor.js';
import { TrustedProxies } from './trusted-proxies.js';
import { WaitingClients } from './waiting-clients.js';

/** The HTTP API: controllers over the registry, bearer-token auth on every route but health, problem+json errors. */
@Module({
  imports: [RegistryModule],
  controllers: [
    HealthController,
    PackagesController,
    TusUploadsController,
    TagsController,
    FilesController,
    ManifestsController,
    EventsController,
    EventsStreamController,
    TransparencyLogController,
    AdminController,
    MetricsController,
  ],
  providers: [
    { provide: APP_GUARD, useClass: AuthGuard },
    { provide: APP_GUARD, useClass: ReadOnlyMirrorGuard },
    { provide: APP_FILTER, useClass: ProblemFilter },
    { provide: APP_INTERCEPTOR, useClass: RequestDrainInterceptor },
    TrustedProxies,
    WaitingClients,
    RequestDrain,
    Metrics,
  ],
  exports: [WaitingClients],
})
export class ApiModule {}
