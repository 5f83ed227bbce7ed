/** Runs `work` with process.stdout captured; answers what it wrote and what it threw. */
export async function capturingStdout(
  work: () => Promise<void>,
): Promise<{ stdout: string; error: unknown }> {
  const write = process.stdout.write.bind(process.stdout);
  let stdout = '';
  process.stdout.write = (chunk: string) => {
    stdout += chunk;
    return true;
  };
  try {
    await work();
    return { stdout, error: undefined };
  } catch (error) {
    return { stdout, error };
  } finally {
    process.stdout.write = write;
  }
}
