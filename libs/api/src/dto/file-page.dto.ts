import { ApiProperty } from '@nestjs/swagger';
import { FileDto } from './file.dto.js';

export class FilePageDto {
  @ApiProperty({ type: [FileDto] })
  items!: FileDto[];

  @ApiProperty({ nullable: true, type: String })
  next_cursor!: string | null;
}
