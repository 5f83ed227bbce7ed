import { Controller, Get } from '@nestjs/common';
import { EventLog } from '@artifactstore/events';

/** Liveness and readiness in one: answers only when the database does. */
@Controller()
export class HealthController {
  constructor(private readonly eventLog: EventLog) {}

  @Get('healthz')
  async health(): Promise<{ status: 'ok'; head_sequence: number }> {
    return { status: 'ok', head_sequence: await this.eventLog.headSequence() };
  }
}
