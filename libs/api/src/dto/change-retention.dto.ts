import { ApiProperty } from '@nestjs/swagger';

export class ChangeRetentionDto {
  @ApiProperty({
    example: 'long_term',
    description: 'ephemeral, standard, long_term, permanent, or any class the store defines.',
  })
  retention_class!: string;
}
