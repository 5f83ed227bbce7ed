import { Controller, Get, Logger } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { MirrorFollower, Registry, type MirrorStatus } from '@artifactstore/registry';
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

  constructor(
    private readonly registry: Registry,
    private readonly mirror: MirrorFollower,
  ) {}

  /** The process is up and serving; touches nothing else. */
  @Get('healthz')
  @ApiOperation({ summary: 'The process is up' })
  @ApiOkResponse({ type: HealthDto })
  health(): { status: 'ok' } {
    return { status: 'ok' };
  }

  /**
   * Ready for traffic: the database answers and the blob storage takes writes; on a mirror, with its progress, and
   * 503 `mirror_diverged` once its source's log no longer extends its own.
   */
  @Get('readyz')
  @ApiOperation({ summary: 'The database answers and the blob storage takes writes' })
  @ApiOkResponse({ type: ReadyDto })
  @ApiProblems('service_unavailable', 'mirror_diverged')
  async ready(): Promise<{ status: 'ready'; head_sequence: number; mirror?: MirrorStatus }> {
    let head: number;
    try {
      head = await this.registry.checkReadiness();
    } catch (error) {
      this.logger.warn(`not ready: ${error instanceof Error ? error.message : String(error)}`);
      throw new HttpProblem('service_unavailable', 'the database or the blob storage is not available', {
        'Retry-After': String(UNAVAILABLE_RETRY_AFTER_SECONDS),
      });
    }
    if (!this.mirror.enabled) return { status: 'ready', head_sequence: head };
    const mirror = this.mirror.status();
    if (mirror.state === 'diverged') {
      throw new HttpProblem('mirror_diverged', mirror.detail ?? 'the source diverged', {}, { mirror });
    }
    return { status: 'ready', head_sequence: head, mirror };
  }
}
