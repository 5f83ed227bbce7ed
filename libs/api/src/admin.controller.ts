import { Body, Controller, Get, HttpCode, Post, Req } from '@nestjs/common';
import { performance } from 'node:perf_hooks';
import { ApiBearerAuth, ApiBody, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { Registry, type GcReport } from '@artifactstore/registry';
import { ApiProblems } from './api-problems.decorator.js';
import { GcReportDto } from './dto/gc-report.dto.js';
import { GcRequestDto } from './dto/lifecycle.dto.js';
import { ReplayResultDto } from './dto/replay-result.dto.js';
import { jsonFields } from './json-body.js';
import { HttpProblem } from './problem.js';
import { principalOf, type ApiRequest } from './principal.js';
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

  /**
   * Runs expiry, then collection, now (the same run ARTIFACTSTORE_GC_INTERVAL_SECONDS schedules); a dry run reports
   * what it would do and changes nothing.
   */
  @Post('gc')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Expire due packages and collect unreferenced blobs now (or report what would go)',
  })
  @ApiBody({ type: GcRequestDto, required: false })
  @ApiOkResponse({ type: GcReportDto })
  @ApiProblems('invalid_input', 'collector_busy')
  collectGarbage(@Body() body: unknown, @Req() request: ApiRequest): Promise<GcReport> {
    const { dry_run: dryRun = false } = jsonFields(body, ['dry_run'], { optional: true });
    if (typeof dryRun !== 'boolean') {
      throw new HttpProblem('invalid_input', 'dry_run must be true or false', {}, { field: 'dry_run' });
    }
    return this.registry.collectGarbage({ dryRun, actor: principalOf(request).name });
  }
}
