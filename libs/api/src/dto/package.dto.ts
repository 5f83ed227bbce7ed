import { ApiProperty } from '@nestjs/swagger';
import type { PackageRecord, PackageStatus } from '@artifactstore/registry';
import { PACKAGE_METADATA_SCHEMA } from './package-metadata.schema.js';

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

  @ApiProperty(PACKAGE_METADATA_SCHEMA)
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
