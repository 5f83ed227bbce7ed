import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';

export class ReasonDto {
  @ApiPropertyOptional({
    example: 'built from the wrong branch',
    description: '0–1024 characters; recorded in the event.',
  })
  reason?: string;
}

export class ChangeRetentionDto {
  @ApiProperty({
    example: 'long_term',
    description: 'ephemeral, standard, long_term, permanent, or any class the store defines.',
  })
  retention_class!: string;
}

export class GcRequestDto {
  @ApiPropertyOptional({ description: 'Report what a run would do, and change nothing.', default: false })
  dry_run?: boolean;
}
