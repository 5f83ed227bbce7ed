import { Module } from '@nestjs/common';
import { EventsModule } from '@artifactstore/events';
import { RegistryViewWriter } from './registry-view-writer.js';
import { ViewProjector } from './view-projector.service.js';

@Module({
  imports: [EventsModule],
  providers: [{ provide: RegistryViewWriter, useFactory: () => new RegistryViewWriter() }, ViewProjector],
  exports: [RegistryViewWriter, ViewProjector, EventsModule],
})
export class ViewsModule {}
