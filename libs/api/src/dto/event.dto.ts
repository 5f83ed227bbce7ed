import { ApiProperty } from '@nestjs/swagger';
import type { EventJson } from '@artifactstore/registry';

export class EventDto implements EventJson {
  @ApiProperty({ example: 42 })
  sequence!: number;

  @ApiProperty({ example: 'v1.package.created' })
  event_type!: string;

  @ApiProperty({ example: 'package' })
  subject_kind!: string;

  @ApiProperty({ format: 'uuid' })
  subject_id!: string;

  @ApiProperty({ example: 'ci-bot' })
  actor!: string;

  @ApiProperty({ format: 'date-time' })
  created_at!: string;

  @ApiProperty({ description: 'BLAKE3 of the canonical CBOR payload, hex.' })
  payload_digest!: string;

  @ApiProperty({ description: 'Hash chain over the log (docs/formats.md), hex.' })
  chain_digest!: string;

  @ApiProperty({
    type: 'object',
    additionalProperties: true,
    description: 'The CBOR payload as JSON; bytes as hex.',
  })
  payload!: Record<string, never>;

  @ApiProperty({
    required: false,
    description: 'With `include=payload`: the payload exactly as stored, canonical CBOR, base64.',
  })
  payload_cbor?: string;
}
