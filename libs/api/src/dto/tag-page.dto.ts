import { ApiProperty } from '@nestjs/swagger';
import { TagDto } from './tag.dto.js';

export class TagPageDto {
  @ApiProperty({ type: [TagDto] })
  items!: TagDto[];

  @ApiProperty({ nullable: true, type: String })
  next_cursor!: string | null;
}
