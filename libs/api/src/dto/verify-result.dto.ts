import { ApiProperty } from '@nestjs/swagger';

export class VerifyResultDto {
  @ApiProperty()
  ok!: boolean;

  @ApiProperty()
  events_checked!: number;

  @ApiProperty({ nullable: true, type: Number })
  first_bad_sequence!: number | null;

  @ApiProperty({
    nullable: true,
    type: Number,
    description: 'The last event checked, when the chain is sound.',
  })
  head_sequence!: number | null;

  @ApiProperty({
    nullable: true,
    type: String,
    description: 'Its chain digest, hex: two stores with the same head and digest hold the same log.',
  })
  head_chain_digest!: string | null;
}
