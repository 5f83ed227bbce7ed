import { ApiProperty } from '@nestjs/swagger';
import type { FinalizeResult, PackageStatus } from '@artifactstore/registry';

export class FinalizeResultDto implements FinalizeResult {
  @ApiProperty({ format: 'uuid' })
  id!: string;

  @ApiProperty({ enum: ['finalized'] })
  status!: PackageStatus;

  @ApiProperty({ example: 'blake3:0e84861dafe81accc032847d2d956145acd3267ccdcaac20dbfcae7ad7c3b15f' })
  content_address!: string;

  @ApiProperty({ example: '0e84861dafe81accc032847d2d956145acd3267ccdcaac20dbfcae7ad7c3b15f' })
  manifest_digest!: string;
}
