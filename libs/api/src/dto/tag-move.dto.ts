import { ApiProperty } from '@nestjs/swagger';
import type { TagMove } from '@artifactstore/registry';

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
