import { applyDecorators } from '@nestjs/common';
import { ApiResponse, getSchemaPath } from '@nestjs/swagger';
import { ProblemDto } from './dto/problem.dto.js';
import { statusOf, type ProblemCode } from './problem.js';

/** Documents the problem+json errors a route may answer, grouped by status, with their codes. */
export function ApiProblems(...codes: ProblemCode[]): MethodDecorator & ClassDecorator {
  const byStatus = new Map<number, ProblemCode[]>();
  for (const code of codes) byStatus.set(statusOf(code), [...(byStatus.get(statusOf(code)) ?? []), code]);
  return applyDecorators(
    ...[...byStatus].map(([status, grouped]) =>
      ApiResponse({
        status,
        description: grouped.map((code) => `\`${code}\``).join(', '),
        content: { 'application/problem+json': { schema: { $ref: getSchemaPath(ProblemDto) } } },
      }),
    ),
  );
}
