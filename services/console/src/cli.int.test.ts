/**
 * The user CLI as an operator runs it: built (`tsc -b`, as `npm run build` does) and reached through
 * the root dispatcher, `npm run meterstream -- users …` (scripts/meterstream.mjs → dist/cli.js).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseUsers } from './auth.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
let dir: string;

const meterstream = (args: string[], input = '') =>
  spawnSync(process.execPath, [path.join(ROOT, 'scripts/meterstream.mjs'), ...args], {
    cwd: ROOT,
    input,
    encoding: 'utf8',
  });

beforeAll(() => {
  execFileSync(
    process.execPath,
    [path.join(ROOT, 'node_modules/typescript/bin/tsc'), '-b', 'services/console'],
    {
      cwd: ROOT,
      stdio: 'inherit',
    },
  );
  dir = mkdtempSync(path.join(tmpdir(), 'console-cli-int-'));
}, 180_000);

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('npm run meterstream -- users', () => {
  it('is listed, prints its help, adds a user from stdin and lists it', () => {
    expect(meterstream(['--help']).stdout).toMatch(/users +console users: add \| list/);
    const help = meterstream(['users', '--help']);
    expect(help.status, help.stderr).toBe(0);
    expect(help.stdout).toMatch(/^Usage: meterstream users <command>/);

    const file = path.join(dir, 'users.json');
    const add = meterstream(
      ['users', 'add', '--file', file, '--username', 'olivia', '--role', 'operator'],
      'correct horse battery staple\n',
    );
    expect(add.status, add.stderr).toBe(0);
    expect(add.stdout).toBe(`added olivia (operator) in ${file}\n`);
    expect(parseUsers(readFileSync(file, 'utf8'))).toEqual([
      {
        username: 'olivia',
        role: 'operator',
        passwordHash: expect.stringMatching(/^\$2/) as unknown,
      },
    ]);
    const list = meterstream(['users', 'list', '--file', file, '--json']);
    expect(list.status, list.stderr).toBe(0);
    expect(JSON.parse(list.stdout)).toEqual([{ username: 'olivia', role: 'operator' }]);
  });

  it('still answers at dist/add-user.js, the earlier name of users add', () => {
    const file = path.join(dir, 'alias.json');
    const r = spawnSync(
      process.execPath,
      [
        path.join(ROOT, 'services/console/dist/add-user.js'),
        '--file',
        file,
        '--username',
        'vic',
        '--role',
        'viewer',
      ],
      { input: 'correct horse battery staple\n', encoding: 'utf8' },
    );
    expect(r.status, r.stderr).toBe(0);
    expect(parseUsers(readFileSync(file, 'utf8')).map((u) => u.role)).toEqual(['viewer']);
  });
});
