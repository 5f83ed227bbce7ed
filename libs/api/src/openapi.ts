import type { NestExpressApplication } from '@nestjs/platform-express';
import { DocumentBuilder, SwaggerModule, type OpenAPIObject } from '@nestjs/swagger';
import { ProblemDto } from './dto/problem.dto.js';

/** The OpenAPI 3 document of the API: every route, schema and error. */
export function buildOpenApiDocument(app: NestExpressApplication): OpenAPIObject {
  const config = new DocumentBuilder()
    .setTitle('artifactstore')
    .setDescription(
      'Packages of files, hashed with BLAKE3 and SHA-256 as they stream, finalized into a content-addressed manifest. ' +
        'Errors are RFC 9457 problem+json with a stable `code`.',
    )
    .setVersion('1')
    .addBearerAuth({ type: 'http', scheme: 'bearer', description: 'A token from ARTIFACTSTORE_TOKENS_FILE' })
    .build();
  return SwaggerModule.createDocument(app, config, { extraModels: [ProblemDto] });
}

/** Swagger UI at /docs and the document at /docs-json, both without auth. */
export function setupOpenApi(app: NestExpressApplication): void {
  SwaggerModule.setup('docs', app, () => buildOpenApiDocument(app), {
    jsonDocumentUrl: 'docs-json',
    raw: ['json'],
  });
}
