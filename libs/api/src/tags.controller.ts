import { Body, Controller, Delete, Get, HttpCode, Param, Put, Query, Req, Res } from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiBody,
  ApiOkResponse,
  ApiOperation,
  ApiParam,
  ApiProduces,
  ApiQuery,
  ApiResponse,
  ApiTags,
} from '@nestjs/swagger';
import type { Response } from 'express';
import { MAX_PAGE_LIMIT, Registry, type Page, type TagMove, type TagRecord } from '@artifactstore/registry';
import { ApiProblems } from './api-problems.decorator.js';
import { MoveTagDto } from './dto/move-tag.dto.js';
import { TagHistoryPageDto } from './dto/tag-history-page.dto.js';
import { TagPageDto } from './dto/tag-page.dto.js';
import { TagDto } from './dto/tag.dto.js';
import { sendFile } from './file-response.js';
import { jsonFields } from './json-body.js';
import { HttpProblem } from './problem.js';
import { Actor, type ApiRequest } from './principal.js';
import { onlyKnownParameters, queryInteger, queryText } from './query-values.js';
import { relativePathOf, TAG_FILES_PREFIX } from './request-path.js';
import { ANY_ROLE, Roles, WRITERS } from './auth.guard.js';

const NAME_PARAM = {
  name: 'name',
  description: 'The package name, as one percent-encoded path segment (`webapp%2Fui` for `webapp/ui`).',
  example: 'webapp',
} as const;
const TAG_PARAM = {
  name: 'tag',
  description: '1–128 of `[A-Za-z0-9_.-]`, not starting with `.` or `-`.',
  example: 'stable',
} as const;

/** Tags: `<name>:<tag>` → a finalized package of that name; every move and removal is an event. */
@ApiTags('tags')
@ApiBearerAuth()
@ApiProblems('unauthorized', 'forbidden')
@Roles(...ANY_ROLE)
@Controller('v1/tags')
export class TagsController {
  constructor(private readonly registry: Registry) {}

  @Put(':name/:tag')
  @Roles(...WRITERS)
  @ApiOperation({
    summary: 'Point a tag at a finalized package of its name (201 when new, 200 when moved or unchanged)',
  })
  @ApiParam(NAME_PARAM)
  @ApiParam(TAG_PARAM)
  @ApiBody({ type: MoveTagDto })
  @ApiOkResponse({ type: TagDto })
  @ApiResponse({ status: 201, type: TagDto, description: 'The tag is new.' })
  @ApiProblems(
    'invalid_input',
    'package_not_found',
    'manifest_not_found',
    'tag_name_mismatch',
    'illegal_package_state',
    'tag_immutable',
  )
  async move(
    @Param('name') name: string,
    @Param('tag') tag: string,
    @Body() body: unknown,
    @Actor() actor: string,
    @Res({ passthrough: true }) response: Response,
  ): Promise<TagRecord> {
    const fields = jsonFields(body, ['package']);
    if (fields.package === undefined) {
      throw new HttpProblem(
        'invalid_input',
        'package is required: a package id or content address',
        {},
        { field: 'package' },
      );
    }
    const result = await this.registry.moveTag(name, tag, fields.package, actor);
    response.status(result.created ? 201 : 200);
    return result.tag;
  }

  @Get(':name')
  @ApiOperation({ summary: "A name's tags, in byte order" })
  @ApiParam(NAME_PARAM)
  @ApiQuery({ name: 'limit', required: false, type: Number, description: '1–1000, default 100' })
  @ApiQuery({ name: 'cursor', required: false, description: 'next_cursor of the previous page' })
  @ApiOkResponse({ type: TagPageDto })
  @ApiProblems('invalid_input')
  list(@Param('name') name: string, @Query() query: Record<string, unknown>): Promise<Page<TagRecord>> {
    onlyKnownParameters(query, ['limit', 'cursor']);
    return this.registry.listTags(name, {
      limit: queryInteger(query, 'limit', 1, MAX_PAGE_LIMIT),
      cursor: queryText(query, 'cursor'),
    });
  }

  @Get(':name/:tag')
  @ApiOperation({ summary: 'Where a tag points, with the package inline' })
  @ApiParam(NAME_PARAM)
  @ApiParam(TAG_PARAM)
  @ApiOkResponse({ type: TagDto })
  @ApiProblems('invalid_input', 'tag_not_found')
  get(@Param('name') name: string, @Param('tag') tag: string): Promise<TagRecord> {
    return this.registry.getTag(name, tag);
  }

  @Get(':name/:tag/history')
  @ApiOperation({ summary: 'Every move and removal of a tag, newest first, from the log' })
  @ApiParam(NAME_PARAM)
  @ApiParam(TAG_PARAM)
  @ApiQuery({ name: 'limit', required: false, type: Number, description: '1–1000, default 100' })
  @ApiQuery({ name: 'cursor', required: false, description: 'next_cursor of the previous page' })
  @ApiOkResponse({ type: TagHistoryPageDto })
  @ApiProblems('invalid_input')
  history(
    @Param('name') name: string,
    @Param('tag') tag: string,
    @Query() query: Record<string, unknown>,
  ): Promise<Page<TagMove>> {
    onlyKnownParameters(query, ['limit', 'cursor']);
    return this.registry.tagHistory(name, tag, {
      limit: queryInteger(query, 'limit', 1, MAX_PAGE_LIMIT),
      cursor: queryText(query, 'cursor'),
    });
  }

  @Delete(':name/:tag')
  @Roles('admin')
  @HttpCode(204)
  @ApiOperation({ summary: 'Remove a tag (its history stays in the log)' })
  @ApiParam(NAME_PARAM)
  @ApiParam(TAG_PARAM)
  @ApiResponse({ status: 204, description: 'Removed.' })
  @ApiProblems('invalid_input', 'tag_not_found', 'tag_immutable')
  async remove(
    @Param('name') name: string,
    @Param('tag') tag: string,
    @Actor() actor: string,
  ): Promise<void> {
    await this.registry.deleteTag(name, tag, actor);
  }

  @Get(':name/:tag/files/*path')
  @ApiOperation({
    summary: 'Download a file of the tagged package by its path (GET or HEAD; as the package path)',
  })
  @ApiParam(NAME_PARAM)
  @ApiParam(TAG_PARAM)
  @ApiParam({
    name: 'path',
    type: String,
    description: 'The relative path inside the package.',
    example: 'bin/webapp',
  })
  @ApiProduces('application/octet-stream')
  @ApiOkResponse({ description: 'The bytes, BLAKE3-verified as they stream.' })
  @ApiProblems('invalid_input', 'tag_not_found', 'file_not_found', 'package_gone', 'range_not_satisfiable')
  async download(
    @Param('name') name: string,
    @Param('tag') tag: string,
    @Req() request: ApiRequest,
    @Res() response: Response,
  ): Promise<void> {
    const { package: pkg } = await this.registry.getTag(name, tag);
    const file = await this.registry.findFileByPath(pkg.id, relativePathOf(request, TAG_FILES_PREFIX));
    await sendFile(this.registry, request, response, file);
  }
}
