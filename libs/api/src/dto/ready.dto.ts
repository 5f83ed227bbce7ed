import { ApiProperty } from '@nestjs/swagger';

export class ReadyDto {
  @ApiProperty({ enum: ['ready'] })
  status!: 'ready';

  @ApiProperty()
  head_sequence!: number;
}
