import { ApiProperty } from '@nestjs/swagger';
import { EventDto } from './event.dto.js';

export class EventsPageDto {
  @ApiProperty({ type: [EventDto] })
  events!: EventDto[];

  @ApiProperty({
    description: 'The last sequence returned, or `since` when none: pass it as the next `since`.',
  })
  next_since!: number;
}
