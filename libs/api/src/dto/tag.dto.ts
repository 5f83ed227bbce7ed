import { ApiProperty } from '@nestjs/swagger';
import type { TagRecord } from '@artifactstore/registry';
import { PackageDto } from './package.dto.js';

export class TagDto implements TagRecord {
  @ApiProperty({ example: 'webapp' })
  name!: string;

  @ApiProperty({ example: 'stable' })
  tag!: string;

  @ApiProperty({ type: PackageDto })
  package!: PackageDto;

  @ApiProperty({ format: 'date-time' })
  moved_at!: string;

  @ApiProperty({ description: 'Who moved it last.' })
  moved_by!: string;
}
