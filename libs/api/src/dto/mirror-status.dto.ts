import { ApiProperty } from '@nestjs/swagger';
import type { MirrorState, MirrorStatus } from '@artifactstore/registry';

export class MirrorStatusDto implements MirrorStatus {
  @ApiProperty({ description: 'The server this mirror follows (ARTIFACTSTORE_FOLLOW_URL).' })
  source!: string;

  @ApiProperty({
    enum: ['starting', 'following', 'standby', 'retrying', 'diverged'],
    description:
      "`standby`: another process of this database follows; `retrying`: the last attempt failed (see `detail`); `diverged`: the source's log does not extend this one.",
  })
  state!: MirrorState;

  @ApiProperty({ description: "This mirror's head sequence." })
  head_sequence!: number;

  @ApiProperty({ type: Number, nullable: true, description: "The source's head sequence, as last seen." })
  source_head_sequence!: number | null;

  @ApiProperty({ type: Number, nullable: true })
  lag_events!: number | null;

  @ApiProperty({ description: 'How long ago the source committed the oldest event not applied here yet.' })
  lag_seconds!: number;

  @ApiProperty({ type: String, nullable: true })
  detail!: string | null;
}
