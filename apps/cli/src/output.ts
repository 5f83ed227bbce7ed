/** Writes a command's result: JSON (one line) with `--json`, else the human text. */
export function printResult(json: boolean | undefined, value: unknown, human: () => string): void {
  process.stdout.write(json ? `${JSON.stringify(value)}\n` : ensureNewline(human()));
}

/** A note for the person at the terminal (stderr, so stdout stays the result). */
export function note(text: string): void {
  process.stderr.write(`artifactstore: ${text}\n`);
}

function ensureNewline(text: string): string {
  return text === '' || text.endsWith('\n') ? text : `${text}\n`;
}
