import { Controller, Get, Logger } from '@nestjs/common';
import { Registry } from '@artifactstore/registry';
import { Public } from './auth.guard.js';
import { HttpProblem } from './problem.js';

@Public()
@Controller()
export class HealthController {
  private readonly logger = new Logger('health');

  constructor(private readonly registry: Registry) {}

  /** The process is up and serving; touches nothing else. */
  @Get('healthz')
  health(): { status: 'ok' } {
    return { status: 'ok' };
  }

  /** Ready for traffic: the database answers and the blob storage takes writes. */
  @Get('readyz')
  async ready(): Promise<{ status: 'ready'; head_sequence: number }> {
    try {
      return { status: 'ready', head_sequence: await this.registry.checkReadiness() };
    } catch (error) {
      this.logger.warn(`not ready: ${error instanceof Error ? error.message : String(error)}`);
      throw new HttpProblem('service_unavailable', 'the database or the blob storage is not available');
    }
  }
}
