import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import type { FinalizeResult, PackageRecord, PackageStatus } from '@artifactstore/registry';

const METADATA = {
  type: 'object',
  additionalProperties: true,
  example: { build: 42, branch: 'main' },
  description:
    'A JSON object: at most 64 KiB as RFC 8785 JSON, at most 16 levels deep, no U+0000 in strings.',
} as const;

export class CreatePackageDto {
  @ApiProperty({ example: 'webapp', description: '1–256 characters, no control characters.' })
  name!: string;

  @ApiProperty({ example: 'ci', description: 'Who produces it (a pipeline, a team). 1–256 characters.' })
  producer!: string;

  @ApiProperty({ example: 'git:3f2c1a9', description: 'What it was built from. 1–256 characters.' })
  subject!: string;

  @ApiProperty({
    example: 'standard',
    description: 'ephemeral (7 days), standard (90), long_term (3650) or permanent.',
  })
  retention_class!: string;

  @ApiPropertyOptional(METADATA)
  metadata?: Record<string, unknown>;
}

export class PackageDto implements PackageRecord {
  @ApiProperty({ format: 'uuid' })
  id!: string;

  @ApiProperty({ example: 'webapp' })
  name!: string;

  @ApiProperty({ example: 'ci' })
  producer!: string;

  @ApiProperty({ example: 'git:3f2c1a9' })
  subject!: string;

  @ApiProperty({ example: 'standard' })
  retention_class!: string;

  @ApiProperty({ enum: ['created', 'finalized'] })
  status!: PackageStatus;

  @ApiProperty(METADATA)
  metadata!: Record<string, never>;

  @ApiProperty({ format: 'date-time', example: '2026-11-28T02:00:00.000Z' })
  created_at!: string;

  @ApiProperty({ format: 'date-time', nullable: true, type: String })
  finalized_at!: string | null;

  @ApiProperty({
    format: 'date-time',
    nullable: true,
    type: String,
    description: 'null while open, or never.',
  })
  expires_at!: string | null;

  @ApiProperty({ example: 3 })
  file_count!: number;

  @ApiProperty({ example: 1048576, description: 'Bytes.' })
  total_size!: number;

  @ApiProperty({
    nullable: true,
    type: String,
    example: 'blake3:0e84861dafe81accc032847d2d956145acd3267ccdcaac20dbfcae7ad7c3b15f',
  })
  content_address!: string | null;
}

export class PackagePageDto {
  @ApiProperty({ type: [PackageDto] })
  items!: PackageDto[];

  @ApiProperty({
    nullable: true,
    type: String,
    description: 'Pass as `cursor` for the next page; null on the last.',
  })
  next_cursor!: string | null;
}

export class FinalizeResultDto implements FinalizeResult {
  @ApiProperty({ format: 'uuid' })
  id!: string;

  @ApiProperty({ enum: ['finalized'] })
  status!: PackageStatus;

  @ApiProperty({ example: 'blake3:0e84861dafe81accc032847d2d956145acd3267ccdcaac20dbfcae7ad7c3b15f' })
  content_address!: string;

  @ApiProperty({ example: '0e84861dafe81accc032847d2d956145acd3267ccdcaac20dbfcae7ad7c3b15f' })
  manifest_digest!: string;
}
