import { ApiProperty } from '@nestjs/swagger';
import type { GcReport } from '@artifactstore/registry';

class ExpiredPackageDto {
  @ApiProperty({ format: 'uuid' })
  id!: string;

  @ApiProperty({ enum: ['retention', 'abandoned'] })
  reason!: 'retention' | 'abandoned';
}

class CollectedDto {
  @ApiProperty({ example: 12 })
  blobs!: number;

  @ApiProperty({ example: 104857600 })
  bytes!: number;
}

class KeptDto {
  @ApiProperty({ description: 'Finalized packages past their deadline that a hold keeps.' })
  held!: number;

  @ApiProperty({ description: 'Finalized packages past their deadline that a tag keeps.' })
  tagged!: number;

  @ApiProperty({ description: 'Finalized packages past their deadline kept as the newest of their name.' })
  latest!: number;
}

export class GcReportDto implements GcReport {
  @ApiProperty()
  dry_run!: boolean;

  @ApiProperty({
    type: [ExpiredPackageDto],
    description: 'The packages this run expired (or would), at most 10,000 of them: see expired_count.',
  })
  expired!: ExpiredPackageDto[];

  @ApiProperty()
  expired_count!: number;

  @ApiProperty({ type: CollectedDto })
  collected!: CollectedDto;

  @ApiProperty({ type: KeptDto })
  kept!: KeptDto;

  @ApiProperty()
  duration_ms!: number;
}
