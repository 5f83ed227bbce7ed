import { Controller, Get, HttpCode, Post } from '@nestjs/common';
import { performance } from 'node:perf_hooks';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { Registry } from '@artifactstore/registry';
import { ApiProblems } from './api-problems.decorator.js';
import { ReplayResultDto } from './dto/replay-result.dto.js';
import { VerifyResultDto } from './dto/verify-result.dto.js';
import { Roles } from './auth.guard.js';

@ApiTags('admin')
@ApiBearerAuth()
@ApiProblems('unauthorized', 'forbidden')
@Roles('admin')
@Controller('v1/admin')
export class AdminController {
  constructor(private readonly registry: Registry) {}

  /** Rebuilds every view from the log; `identical` says the rebuilt views equal the old ones byte for byte. */
  @Post('replay')
  @HttpCode(200)
  @ApiOperation({ summary: 'Rebuild every view from the event log' })
  @ApiOkResponse({ type: ReplayResultDto })
  async replay(): Promise<{
    highest_sequence: number;
    state_digest_before: string;
    state_digest_after: string;
    identical: boolean;
    duration_ms: number;
  }> {
    const start = performance.now();
    const report = await this.registry.replayViews();
    return {
      highest_sequence: report.head_sequence,
      state_digest_before: report.state_digest_before,
      state_digest_after: report.state_digest_after,
      identical: report.state_digest_before === report.state_digest_after,
      duration_ms: Math.round(performance.now() - start),
    };
  }

  /** Checks every payload digest and chain digest of the log. */
  @Get('verify')
  @ApiOperation({ summary: 'Verify the payload digests and the hash chain of the log' })
  @ApiOkResponse({ type: VerifyResultDto })
  async verify(): Promise<{ ok: boolean; events_checked: number; first_bad_sequence: number | null }> {
    const result = await this.registry.verifyChain();
    return {
      ok: result.ok,
      events_checked: result.eventsChecked,
      first_bad_sequence: result.ok ? null : result.sequence,
    };
  }
}
