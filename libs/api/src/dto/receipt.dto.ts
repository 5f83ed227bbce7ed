import { ApiProperty } from '@nestjs/swagger';

export class ReceiptDto {
  @ApiProperty({ format: 'uuid' })
  package_id!: string;

  @ApiProperty({ description: "The entry's leaf index in the log's Merkle tree (0-based)." })
  leaf_index!: number;

  @ApiProperty({
    description:
      "The `v1.package.finalized` event's log entry, base64: canonical CBOR of [sequence, event_type, subject_kind, subject_id, actor, created_at, payload_digest] (docs/formats.md). Its leaf hash is SHA-256(0x00 ‖ entry).",
  })
  entry!: string;

  @ApiProperty({
    description:
      "The package's manifest, canonical CBOR, base64: its BLAKE3 is the entry's payload digest and the package's content address.",
  })
  manifest!: string;

  @ApiProperty({ description: 'The signed checkpoint (C2SP signed note) that the proof leads to.' })
  checkpoint!: string;

  @ApiProperty({
    type: [String],
    description: 'RFC 9162 §2.1.3 inclusion proof of the entry in that checkpoint: SHA-256 hashes, base64.',
  })
  inclusion_proof!: string[];
}
