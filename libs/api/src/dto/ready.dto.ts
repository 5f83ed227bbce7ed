import { ApiProperty } from '@nestjs/swagger';
import { MirrorStatusDto } from './mirror-status.dto.js';

export class ReadyDto {
  @ApiProperty({ enum: ['ready'] })
  status!: 'ready';

  @ApiProperty()
  head_sequence!: number;

  @ApiProperty({ type: MirrorStatusDto, required: false, description: 'On a mirror: its progress.' })
  mirror?: MirrorStatusDto;
}
