// Writes the generated schema files: `npm run generate -w @meterstream/schemas` (after a build).
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { formattedFiles } from './format.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
for (const [rel, content] of Object.entries(await formattedFiles(root))) {
  const path = join(root, rel);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, content);
  process.stdout.write(`wrote ${rel}\n`);
}
