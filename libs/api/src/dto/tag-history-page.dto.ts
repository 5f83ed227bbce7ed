import { ApiProperty } from '@nestjs/swagger';
import { TagMoveDto } from './tag-move.dto.js';

export class TagHistoryPageDto {
  @ApiProperty({ type: [TagMoveDto] })
  items!: TagMoveDto[];

  @ApiProperty({ nullable: true, type: String })
  next_cursor!: string | null;
}
