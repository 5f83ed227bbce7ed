import { Module } from '@nestjs/common';
import { EventLog } from './event-log.service.js';

/** The event log. Needs DbModule and ConfigModule (both global) in the application. */
@Module({
  providers: [EventLog],
  exports: [EventLog],
})
export class EventsModule {}
