import { ApiProperty } from '@nestjs/swagger';

export class ReplayResultDto {
  @ApiProperty({ example: 1200 })
  highest_sequence!: number;

  @ApiProperty()
  state_digest_before!: string;

  @ApiProperty()
  state_digest_after!: string;

  @ApiProperty({ description: 'The rebuilt views equal the old ones byte for byte.' })
  identical!: boolean;

  @ApiProperty()
  duration_ms!: number;
}
