import { ApiPropertyOptional } from '@nestjs/swagger';

export class ReasonDto {
  @ApiPropertyOptional({
    example: 'built from the wrong branch',
    description: '0–1024 characters; recorded in the event.',
  })
  reason?: string;
}
