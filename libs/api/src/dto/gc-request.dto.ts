import { ApiPropertyOptional } from '@nestjs/swagger';

export class GcRequestDto {
  @ApiPropertyOptional({ description: 'Report what a run would do, and change nothing.', default: false })
  dry_run?: boolean;
}
