import { ApiProperty } from '@nestjs/swagger';
import { PackageDto } from './package.dto.js';

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
