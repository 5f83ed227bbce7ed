import { ApiProperty } from '@nestjs/swagger';

export class VerifyResultDto {
  @ApiProperty()
  ok!: boolean;

  @ApiProperty()
  events_checked!: number;

  @ApiProperty({ nullable: true, type: Number })
  first_bad_sequence!: number | null;
}
