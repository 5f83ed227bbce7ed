import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';

/** RFC 9457 problem details, as every error response carries them (application/problem+json). */
export class ProblemDto {
  @ApiProperty({ example: 'urn:artifactstore:problem:package_not_found' })
  type!: string;

  @ApiProperty({ example: 'Package not found' })
  title!: string;

  @ApiProperty({ example: 404 })
  status!: number;

  @ApiProperty({ example: 'package 01890a5d-ac96-774b-bcce-b302099a8057 does not exist' })
  detail!: string;

  @ApiProperty({
    example: 'package_not_found',
    description: 'Stable machine-readable code; the README lists them with their statuses.',
  })
  code!: string;

  @ApiProperty({
    example: '6f1c2b0e-5a43-4b8e-9d2f-3e8f1f0f7a11',
    description: 'Also in the X-Request-Id header.',
  })
  request_id!: string;

  @ApiPropertyOptional({ description: 'invalid_input: the offending field, parameter or header.' })
  field?: string;

  @ApiPropertyOptional({
    description: 'job_running: the running job’s URL (also in `Location`), to wait for it instead.',
    example: '/v1/admin/jobs/01890a5d-ac96-774b-bcce-b302099a8057',
  })
  job?: string;
}
