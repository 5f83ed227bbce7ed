import { Injectable } from '@nestjs/common';
import { Database, type ConnectionStats } from '@artifactstore/db';
import { EventLog } from '@artifactstore/events';

/** What the libs below the registry report about this process, for metrics. */
export interface RuntimeStatsSnapshot {
  /** Events this process appended and committed since it started. */
  readonly eventsAppended: number;
  /** Event-log tails open now (long-polls and event streams each hold one). */
  readonly openTails: number;
  readonly database: ConnectionStats;
}

/**
 * Counters and gauges of the event log and the database, read through the registry so that the API needs no
 * arrow to the libs below it.
 */
@Injectable()
export class RuntimeStats {
  constructor(
    private readonly database: Database,
    private readonly eventLog: EventLog,
  ) {}

  snapshot(): RuntimeStatsSnapshot {
    return {
      eventsAppended: this.eventLog.appendedEvents,
      openTails: this.eventLog.openTails,
      database: this.database.connectionStats(),
    };
  }
}
