import { Controller, Get, Logger } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { Registry } from '@artifactstore/registry';
import { ApiProblems } from './api-problems.decorator.js';
import { HealthDto } from './dto/health.dto.js';
import { ReadyDto } from './dto/ready.dto.js';
import { Public } from './auth.guard.js';
import { HttpProblem, UNAVAILABLE_RETRY_AFTER_SECONDS } from './problem.js';

@ApiTags('health')
@Public()
@Controller()
export class HealthController {
  private readonly logger = new Logger('health');

  constructor(private readonly registry: Registry) {}

  /** The process is up and serving; touches nothing else. */
  @Get('healthz')
  @ApiOperation({ summary: 'The process is up' })
  @ApiOkResponse({ type: HealthDto })
  health(): { status: 'ok' } {
    return { status: 'ok' };
  }

  /** Ready for traffic: the database answers and the blob storage takes writes. */
  @Get('readyz')
  @ApiOperation({ summary: 'The database answers and the blob storage takes writes' })
  @ApiOkResponse({ type: ReadyDto })
  @ApiProblems('service_unavailable')
  async ready(): Promise<{ status: 'ready'; head_sequence: number }> {
    try {
      return { status: 'ready', head_sequence: await this.registry.checkReadiness() };
    } catch (error) {
      this.logger.warn(`not ready: ${error instanceof Error ? error.message : String(error)}`);
      throw new HttpProblem('service_unavailable', 'the database or the blob storage is not available', {
        'Retry-After': String(UNAVAILABLE_RETRY_AFTER_SECONDS),
      });
    }
  }
}
