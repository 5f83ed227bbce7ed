/** The `metadata` property of a package, as a create sends it and a package shows it. */
export const PACKAGE_METADATA_SCHEMA = {
  type: 'object',
  additionalProperties: true,
  example: { build: 42, branch: 'main' },
  description:
    'A JSON object: at most 64 KiB as RFC 8785 JSON, at most 16 levels deep, no U+0000 in strings.',
} as const;
