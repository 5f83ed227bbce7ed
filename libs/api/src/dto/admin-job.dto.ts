import { ApiProperty, getSchemaPath } from '@nestjs/swagger';
import type {
  AdminJobError,
  AdminJobErrorCode,
  AdminJobKind,
  AdminJobProgress,
  AdminJobState,
} from '@artifactstore/registry';
import { ReplayResultDto } from './replay-result.dto.js';
import { VerifyResultDto } from './verify-result.dto.js';

class AdminJobProgressDto implements AdminJobProgress {
  @ApiProperty({
    description:
      'The sequence of the last event the job has dealt with: a position in the log (PostgreSQL may skip a sequence), not a count.',
    example: 1_500_000,
  })
  events_done!: number;

  @ApiProperty({
    description:
      'The head sequence of the log when the job started; raised should the job pass it (a verify also checks events appended meanwhile).',
    example: 3_500_000,
  })
  events_total!: number;
}

class AdminJobErrorDto implements AdminJobError {
  @ApiProperty({
    description:
      '`projection_error` (an event its view refuses; the views stay as they were), `service_unavailable` (the database could not be used, or the server stopped: start the job again), `storage_error`, `internal_error` (the server log has the details), or a registry code.',
    example: 'projection_error',
  })
  code!: AdminJobErrorCode;

  @ApiProperty({ example: 'v1.package.finalized #7: package 0190… is already finalized' })
  detail!: string;
}

/** A replay or verify job: its progress while it runs, then its result or its error. */
export class AdminJobDto {
  @ApiProperty({ format: 'uuid', description: 'A UUIDv7; `GET /v1/admin/jobs/{id}` reads the job.' })
  id!: string;

  @ApiProperty({ enum: ['replay', 'verify'] })
  kind!: AdminJobKind;

  @ApiProperty({ enum: ['running', 'succeeded', 'failed'] })
  state!: AdminJobState;

  @ApiProperty({ type: AdminJobProgressDto })
  progress!: AdminJobProgressDto;

  @ApiProperty({ type: String, format: 'date-time' })
  started_at!: string;

  @ApiProperty({ nullable: true, type: String, format: 'date-time', description: 'null while running.' })
  finished_at!: string | null;

  @ApiProperty({
    nullable: true,
    oneOf: [{ $ref: getSchemaPath(ReplayResultDto) }, { $ref: getSchemaPath(VerifyResultDto) }],
    description:
      'Once succeeded: a replay’s state digests before and after, a verify’s verdict on the chain (a broken chain is a verify that succeeded with `ok: false`); null otherwise.',
  })
  result!: ReplayResultDto | VerifyResultDto | null;

  @ApiProperty({
    nullable: true,
    type: AdminJobErrorDto,
    description: 'Why the job failed (a problem’s code and detail); null unless failed.',
  })
  error!: AdminJobErrorDto | null;
}
