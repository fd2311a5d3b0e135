import { join } from 'node:path';
import { generatedFiles } from './files.js';

/**
 * {@link generatedFiles} formatted with the repository's Prettier settings, so the committed
 * files pass `prettier --check`. Prettier is a dev dependency: only the generator and its test
 * load this module.
 */
export async function formattedFiles(schemasDir: string): Promise<Record<string, string>> {
  const prettier = await import('prettier');
  const out: Record<string, string> = {};
  for (const [rel, content] of Object.entries(generatedFiles())) {
    const filepath = join(schemasDir, rel);
    const options = (await prettier.resolveConfig(filepath)) ?? {};
    out[rel] = await prettier.format(content, { ...options, filepath, parser: 'json' });
  }
  return out;
}
