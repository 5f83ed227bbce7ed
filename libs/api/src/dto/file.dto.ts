import { ApiProperty } from '@nestjs/swagger';
import type { FileRecord } from '@artifactstore/registry';

export class FileDto implements FileRecord {
  @ApiProperty({ format: 'uuid' })
  id!: string;

  @ApiProperty({ format: 'uuid' })
  package_id!: string;

  @ApiProperty({ example: 'bin/webapp' })
  relative_path!: string;

  @ApiProperty({ example: 'application/octet-stream' })
  media_type!: string;

  @ApiProperty({ example: 1048576 })
  size!: number;

  @ApiProperty({ example: 'af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262' })
  blake3!: string;

  @ApiProperty({ example: 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855' })
  sha256!: string;

  @ApiProperty({ example: 'blake3:af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262' })
  content_address!: string;

  @ApiProperty({ format: 'date-time' })
  created_at!: string;
}
