import { ApiProperty } from '@nestjs/swagger';
import type { ScrubFinding, ScrubFindingKind, ScrubState, ScrubStatus } from '@artifactstore/registry';

class ScrubCheckedDto {
  @ApiProperty({ description: 'Blobs of live files checked so far.', example: 12 })
  blobs!: number;

  @ApiProperty({ description: 'Bytes read to check them.', example: 104857600 })
  bytes!: number;
}

class ScrubFindingDto implements ScrubFinding {
  @ApiProperty({
    description: 'The blob: the lowercase hex BLAKE3 its bytes should have.',
    pattern: '^[0-9a-f]{64}$',
  })
  blake3!: string;

  @ApiProperty({
    enum: ['missing', 'mismatch', 'orphaned'],
    description:
      '`missing`: a live file’s blob is not in storage; `mismatch`: its size or BLAKE3 is wrong; `orphaned`: bytes in storage that no file names (the garbage collector removes them).',
  })
  kind!: ScrubFindingKind;

  @ApiProperty({ description: 'The size the files record, or for an orphan the size in storage.' })
  size!: number;
}

export class ScrubStatusDto implements ScrubStatus {
  @ApiProperty({ enum: ['idle', 'running', 'done', 'failed'] })
  state!: ScrubState;

  @ApiProperty({
    nullable: true,
    type: String,
    format: 'date-time',
    description: 'null before the first pass.',
  })
  started_at!: string | null;

  @ApiProperty({
    nullable: true,
    type: String,
    format: 'date-time',
    description: 'null while none has finished.',
  })
  finished_at!: string | null;

  @ApiProperty({ type: ScrubCheckedDto })
  checked!: ScrubCheckedDto;

  @ApiProperty()
  missing!: number;

  @ApiProperty({ description: 'Blobs whose size or BLAKE3 is wrong (findings of kind `mismatch`).' })
  damaged!: number;

  @ApiProperty()
  orphaned!: number;

  @ApiProperty({
    type: [ScrubFindingDto],
    description: 'The first 1,000 findings of the pass; the counts are complete.',
  })
  findings!: ScrubFindingDto[];

  @ApiProperty({
    nullable: true,
    type: String,
    description: 'Why the pass failed; null unless state is `failed`.',
  })
  error!: string | null;
}
