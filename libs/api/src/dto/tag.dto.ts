import { ApiProperty } from '@nestjs/swagger';
import type { TagMove, TagRecord } from '@artifactstore/registry';
import { PackageDto } from './package.dto.js';

export class MoveTagDto {
  @ApiProperty({ description: 'A package id, or a content address `blake3:<hex>`.', example: 'blake3:0e84…' })
  package!: string;
}

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

export class TagPageDto {
  @ApiProperty({ type: [TagDto] })
  items!: TagDto[];

  @ApiProperty({ nullable: true, type: String })
  next_cursor!: string | null;
}

export class TagMoveDto implements TagMove {
  @ApiProperty()
  sequence!: number;

  @ApiProperty({ enum: ['v1.tag.moved', 'v1.tag.deleted'] })
  event_type!: string;

  @ApiProperty({ nullable: true, type: String, format: 'uuid', description: 'Null for a removal.' })
  package_id!: string | null;

  @ApiProperty({ nullable: true, type: String, format: 'uuid', description: 'Null when the tag was new.' })
  previous_package_id!: string | null;

  @ApiProperty({ format: 'date-time' })
  at!: string;

  @ApiProperty()
  by!: string;
}

export class TagHistoryPageDto {
  @ApiProperty({ type: [TagMoveDto] })
  items!: TagMoveDto[];

  @ApiProperty({ nullable: true, type: String })
  next_cursor!: string | null;
}
