import { Body, Controller, Get, HttpCode, Param, Post, Req, Res } from '@nestjs/common';
import {
  ApiAcceptedResponse,
  ApiBearerAuth,
  ApiBody,
  ApiExtraModels,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
} from '@nestjs/swagger';
import type { Response } from 'express';
import {
  Registry,
  type AdminJob,
  type AdminJobKind,
  type GcReport,
  type ScrubStatus,
} from '@artifactstore/registry';
import { adminJobLocation } from './admin-job-location.js';
import { ApiProblems } from './api-problems.decorator.js';
import { AdminJobDto } from './dto/admin-job.dto.js';
import { AdminJobListDto } from './dto/admin-job-list.dto.js';
import { GcReportDto } from './dto/gc-report.dto.js';
import { GcRequestDto } from './dto/gc-request.dto.js';
import { ReplayResultDto } from './dto/replay-result.dto.js';
import { ScrubStatusDto } from './dto/scrub-status.dto.js';
import { jsonFields } from './json-body.js';
import { HttpProblem } from './problem.js';
import { principalOf, type ApiRequest } from './principal.js';
import { VerifyResultDto } from './dto/verify-result.dto.js';
import { Roles } from './auth.guard.js';

/** The `Location` header of a started job's 202. */
const JOB_LOCATION = {
  Location: { description: 'The job: `/v1/admin/jobs/{id}`.', schema: { type: 'string' } },
} as const;

@ApiTags('admin')
@ApiBearerAuth()
@ApiExtraModels(ReplayResultDto, VerifyResultDto)
@ApiProblems('unauthorized', 'forbidden')
@Roles('admin')
@Controller('v1/admin')
export class AdminController {
  constructor(private readonly registry: Registry) {}

  /**
   * Starts rebuilding every view from the log, in the background: one transaction under the append lock, so writes
   * wait for it while health checks and reads are answered. Its result says whether the rebuilt views equal the old
   * ones byte for byte.
   */
  @Post('replay')
  @HttpCode(202)
  @ApiOperation({ summary: 'Start a job that rebuilds every view from the event log' })
  @ApiAcceptedResponse({ type: AdminJobDto, headers: JOB_LOCATION, description: 'Started.' })
  @ApiProblems('job_running')
  startReplay(@Res({ passthrough: true }) response: Response): Promise<AdminJob> {
    return this.startJob('replay', response);
  }

  /** Starts checking every payload digest and chain digest of the log, in the background, a batch per snapshot. */
  @Post('verify')
  @HttpCode(202)
  @ApiOperation({ summary: 'Start a job that verifies the payload digests and the hash chain of the log' })
  @ApiAcceptedResponse({ type: AdminJobDto, headers: JOB_LOCATION, description: 'Started.' })
  @ApiProblems('job_running')
  startVerify(@Res({ passthrough: true }) response: Response): Promise<AdminJob> {
    return this.startJob('verify', response);
  }

  /** The running job and the last finished ones of this server process. */
  @Get('jobs')
  @ApiOperation({ summary: 'The running and recent replay and verify jobs, newest first' })
  @ApiOkResponse({ type: AdminJobListDto })
  listJobs(): { items: AdminJob[] } {
    return { items: this.registry.jobs() };
  }

  /** A job's progress, then its result or error. */
  @Get('jobs/:id')
  @ApiOperation({ summary: 'Progress, result or error of a replay or verify job' })
  @ApiOkResponse({ type: AdminJobDto })
  @ApiProblems('invalid_input', 'job_not_found')
  job(@Param('id') id: string): AdminJob {
    return this.registry.job(id);
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

  private async startJob(kind: AdminJobKind, response: Response): Promise<AdminJob> {
    const job = await this.registry.startJob(kind);
    response.setHeader('Location', adminJobLocation(job.id));
    return job;
  }
}
