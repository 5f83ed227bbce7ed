import { Controller, Get, Header, Param, Query, Req, Res } from '@nestjs/common';
import type { Response } from 'express';
import {
  ApiBearerAuth,
  ApiOkResponse,
  ApiOperation,
  ApiParam,
  ApiProduces,
  ApiQuery,
  ApiTags,
} from '@nestjs/swagger';
import { parseTilePath } from '@artifactstore/codec';
import { AppConfig } from '@artifactstore/config';
import { TransparencyLog, receiptJson, type TileBytes } from '@artifactstore/registry';
import { ApiProblems } from './api-problems.decorator.js';
import { ANY_ROLE, Roles } from './auth.guard.js';
import { ConsistencyProofDto } from './dto/consistency-proof.dto.js';
import { ReceiptDto } from './dto/receipt.dto.js';
import type { ApiRequest } from './principal.js';
import { HttpProblem } from './problem.js';
import { onlyKnownParameters, queryInteger } from './query-values.js';

/** Full tiles and bundles never change: caches may keep them for a year without asking again. */
const IMMUTABLE = 'max-age=31536000, immutable';
/** A partial tile's bytes never change either, but a client should move on to the full tile once it exists. */
const PARTIAL = 'max-age=60';
const TILE_PREFIX = '/v1/log/tile/';
const TEXT = 'text/plain; charset=utf-8';

/**
 * The transparency log over HTTP, in the formats Certificate Transparency, the Go checksum database and Sigstore
 * share: a C2SP signed-note checkpoint and its verifier key, tlog-tiles tiles and entry bundles, RFC 9162
 * consistency proofs, and receipts of finalized packages.
 */
@ApiTags('transparency log')
@ApiBearerAuth()
@ApiProblems('unauthorized', 'forbidden')
@Roles(...ANY_ROLE)
@Controller('v1')
export class TransparencyLogController {
  /** `public` only when anyone may read the log; behind tokens a shared cache must not keep what one reader got. */
  private readonly visibility: 'public' | 'private';

  constructor(
    private readonly log: TransparencyLog,
    config: AppConfig,
  ) {
    this.visibility = config.tokens.length === 0 ? 'public' : 'private';
  }

  @Get('log/checkpoint')
  @Header('Content-Type', TEXT)
  @Header('Cache-Control', 'no-cache')
  @ApiOperation({
    summary: 'The signed checkpoint of the whole log (C2SP tlog-checkpoint in a signed note)',
    description:
      'Origin, tree size and base64 root hash, each on its own line, then a blank line and the Ed25519 signature line `— <origin> <base64(key id ‖ signature)>`.',
  })
  @ApiProduces(TEXT)
  @ApiOkResponse({ description: 'The signed note.' })
  async checkpoint(): Promise<string> {
    return (await this.log.checkpoint()).note;
  }

  @Get('log/key')
  @Header('Content-Type', TEXT)
  @ApiOperation({
    summary: 'The verifier key of the checkpoints: `<origin>+<key id>+<base64(0x01 ‖ public key)>`',
  })
  @ApiProduces(TEXT)
  @ApiOkResponse({ description: 'The verifier key, with a final newline.' })
  key(): string {
    return `${this.log.verifierKey}\n`;
  }

  @Get('log/consistency')
  @ApiOperation({
    summary: 'RFC 9162 consistency proof between two tree sizes',
    description:
      'Proves that the tree of size `to` (default: the whole log) extends the tree of size `from`.',
  })
  @ApiQuery({ name: 'from', required: true, type: Number, description: '≥ 1' })
  @ApiQuery({ name: 'to', required: false, type: Number, description: '≥ from; default the tree size' })
  @ApiOkResponse({ type: ConsistencyProofDto })
  @ApiProblems('invalid_input', 'log_range_not_available')
  async consistency(@Query() query: Record<string, unknown>): Promise<ConsistencyProofDto> {
    onlyKnownParameters(query, ['from', 'to']);
    const from = queryInteger(query, 'from', 1, Number.MAX_SAFE_INTEGER);
    if (from === undefined) throw new HttpProblem('invalid_input', 'from is required', {}, { field: 'from' });
    const to = queryInteger(query, 'to', 1, Number.MAX_SAFE_INTEGER);
    const proof = await this.log.consistency(from, to);
    return { from: proof.from, to: proof.to, proof: proof.proof.map((hash) => hash.toString('base64')) };
  }

  @Get('log/tile/*tile')
  @ApiOperation({
    summary: 'A tile of hashes or an entry bundle, as C2SP tlog-tiles lays them out',
    description:
      '`<L>/<N>[.p/<W>]`: the hashes of tree level 8·L, 32 bytes each; `entries/<N>[.p/<W>]`: log entries, each behind a 2-byte big-endian length. N in 3-digit path elements, all but the last prefixed with `x`. Full tiles are immutable.',
  })
  @ApiParam({ name: 'tile', description: 'e.g. `0/x001/234`, `1/000.p/17`, `entries/000`' })
  @ApiProduces('application/octet-stream')
  @ApiOkResponse({ description: 'The tile bytes.' })
  @ApiProblems('not_found', 'log_range_not_available')
  async tile(@Req() request: ApiRequest, @Res() response: Response): Promise<void> {
    const [pathname = ''] = request.originalUrl.split('?');
    const at = pathname.indexOf(TILE_PREFIX);
    let tile;
    try {
      tile = parseTilePath(pathname.slice(at + TILE_PREFIX.length));
    } catch (error) {
      throw new HttpProblem('not_found', error instanceof Error ? error.message : 'not a tile path');
    }
    const found: TileBytes =
      tile.kind === 'entries'
        ? await this.log.entryBundle(tile.index, tile.width)
        : await this.log.tile(tile.level, tile.index, tile.width);
    response.setHeader('Content-Type', 'application/octet-stream');
    response.setHeader('Cache-Control', `${this.visibility}, ${found.full ? IMMUTABLE : PARTIAL}`);
    response.end(found.bytes);
  }

  @Get('packages/:id/receipt')
  @ApiOperation({
    summary: "A finalized package's receipt: its log entry, an inclusion proof and the signed checkpoint",
    description:
      "Enough to show offline (`artifactstore verify`) that the package's `v1.package.finalized` event, whose payload digest is its content address, is in the log that the checkpoint signs. `size` asks for a proof against an older checkpoint.",
  })
  @ApiQuery({
    name: 'size',
    required: false,
    type: Number,
    description: 'A tree size that includes the entry',
  })
  @ApiOkResponse({ type: ReceiptDto })
  @ApiProblems('invalid_input', 'package_not_found', 'illegal_package_state', 'log_range_not_available')
  async receipt(@Param('id') id: string, @Query() query: Record<string, unknown>): Promise<ReceiptDto> {
    onlyKnownParameters(query, ['size']);
    const size = queryInteger(query, 'size', 1, Number.MAX_SAFE_INTEGER);
    return receiptJson(await this.log.receipt(id, size));
  }
}
