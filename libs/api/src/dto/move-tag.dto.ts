import { ApiProperty } from '@nestjs/swagger';

export class MoveTagDto {
  @ApiProperty({ description: 'A package id, or a content address `blake3:<hex>`.', example: 'blake3:0e84…' })
  package!: string;
}
