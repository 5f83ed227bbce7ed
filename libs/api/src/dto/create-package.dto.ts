import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { PACKAGE_METADATA_SCHEMA } from './package-metadata.schema.js';

export class CreatePackageDto {
  @ApiPropertyOptional({
    example: '01890a5d-ac96-774b-bcce-b302099a8057',
    description:
      "The package id to use, a lowercase hyphenated UUID (`artifactstore import` keeps the source's, so the content address comes out the same); a new UUIDv7 when absent. An id already taken, by a package in any state, is 409 `package_conflict`.",
  })
  id?: string;

  @ApiProperty({ example: 'webapp', description: '1–256 characters, no control characters.' })
  name!: string;

  @ApiProperty({ example: 'ci', description: 'Who produces it (a pipeline, a team). 1–256 characters.' })
  producer!: string;

  @ApiProperty({ example: 'git:3f2c1a9', description: 'What it was built from. 1–256 characters.' })
  subject!: string;

  @ApiProperty({
    example: 'standard',
    description: 'ephemeral (7 days), standard (90), long_term (3650) or permanent.',
  })
  retention_class!: string;

  @ApiPropertyOptional(PACKAGE_METADATA_SCHEMA)
  metadata?: Record<string, unknown>;
}
