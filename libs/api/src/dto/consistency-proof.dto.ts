import { ApiProperty } from '@nestjs/swagger';

export class ConsistencyProofDto {
  @ApiProperty({ description: 'The older tree size.' })
  from!: number;

  @ApiProperty({ description: 'The newer tree size.' })
  to!: number;

  @ApiProperty({
    type: [String],
    description: 'RFC 9162 §2.1.4 proof: SHA-256 node hashes, base64, in the RFC order.',
  })
  proof!: string[];
}
