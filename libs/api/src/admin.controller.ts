import { Body, Controller, Get, HttpCode, Post, Req } from '@nestjs/common';
import { performance } from 'node:perf_hooks';
import {
  ApiAcceptedResponse,
  ApiBearerAuth,
  ApiBody,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
} from '@nestjs/swagger';
import { Registry, type GcReport, type ScrubStatus } from '@artifactstore/registry';
import { ApiProblems } from './api-problems.decorator.js';
import { GcReportDto } from './dto/gc-report.dto.js';
import { GcRequestDto } from './dto/gc-request.dto.js';
import { ReplayResultDto } from './dto/replay-result.dto.js';
import { ScrubStatusDto } from './dto/scrub-status.dto.js';
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
  async verify(): Promise<VerifyResultDto> {
    const result = await this.registry.verifyChain();
    return {
      ok: result.ok,
      events_checked: result.eventsChecked,
      first_bad_sequence: result.ok ? null : result.sequence,
      head_sequence: result.ok ? result.headSequence : null,
      head_chain_digest: result.ok ? result.headChainDigest.toString('hex') : null,
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

  /**
   * Starts a scrub pass in the background unless one is running in this process, and answers its status: every blob
   * of a live file is read and verified (at most ARTIFACTSTORE_SCRUB_MAX_MIBS MiB/s), every stored blob checked
   * for a file that names it.
   */
  @Post('scrub')
  @HttpCode(202)
  @ApiOperation({ summary: 'Start a pass that verifies every stored blob (unless one is running)' })
  @ApiAcceptedResponse({ type: ScrubStatusDto })
  startScrub(@Req() request: ApiRequest): ScrubStatus {
    return this.registry.startScrub(principalOf(request).name);
  }

  /** The progress and findings of this process's running or last scrub pass. */
  @Get('scrub')
  @ApiOperation({ summary: 'Progress and findings (missing, damaged, orphaned blobs) of the scrub' })
  @ApiOkResponse({ type: ScrubStatusDto })
  scrubStatus(): ScrubStatus {
    return this.registry.scrubStatus();
  }
}
