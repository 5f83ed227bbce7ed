import { ApiProperty } from '@nestjs/swagger';
import { PACKAGE_STATUSES, type PackageRecord, type PackageStatus } from '@artifactstore/registry';
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

  @ApiProperty({ enum: PACKAGE_STATUSES })
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
    description:
      'When retention lets the package go: null while open, held, or for a class that never expires.',
  })
  expires_at!: string | null;

  @ApiProperty({ description: 'A held package neither expires nor can be deleted until it is released.' })
  held!: boolean;

  @ApiProperty({ nullable: true, type: String, description: 'Why it is held; null when it is not.' })
  hold_reason!: string | null;

  @ApiProperty({
    format: 'date-time',
    nullable: true,
    type: String,
    description: 'When the package expired or was deleted.',
  })
  removed_at!: string | null;

  @ApiProperty({
    nullable: true,
    type: String,
    description: '`retention` or `abandoned` for an expired package, the reason given for a deleted one.',
  })
  removal_reason!: string | null;

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
