/** Invalid configuration. The message names every offending variable, one per line. */
export class ConfigError extends Error {
  readonly code = 'invalid_config';
  override readonly name = 'ConfigError';

  constructor(readonly problems: readonly string[]) {
    super(`invalid configuration:\n${problems.map((problem) => `  ${problem}`).join('\n')}`);
  }
}
