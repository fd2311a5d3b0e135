import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { authenticate, parseUsers } from './auth.js';
import { runCli } from './cli.js';

let dir: string;
let file: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'console-cli-'));
  file = path.join(dir, 'users.json');
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Runs the CLI with captured output and `password` as stdin. */
async function run(argv: string[], password = '') {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(argv, {
    out: (s) => void out.push(s),
    err: (s) => void err.push(s),
    readPassword: async () => password,
  });
  return { code, out: out.join(''), err: err.join('') };
}

describe('meterstream users', () => {
  it('prints its help', async () => {
    const r = await run(['users', '--help']);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^Usage: meterstream users <command>/);
  });

  it('adds users with hashed passwords (file mode 0600), replaces one by name, and lists them', async () => {
    expect(
      (
        await run(
          ['users', 'add', '--file', file, '--username', 'alice', '--role', 'operator'],
          'a long password',
        )
      ).out,
    ).toBe(`added alice (operator) in ${file}\n`);
    await run(['add', '--file', file, '--username', 'bob', '--role', 'viewer'], 'another long one');
    const again = await run(
      ['add', '--file', file, '--username', 'alice', '--role', 'admin'],
      'a new long password',
    );
    expect(again.out).toBe(`updated alice (admin) in ${file}\n`);
    const text = await readFile(file, 'utf8');
    expect(text).not.toContain('a new long password');
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    const users = parseUsers(text);
    expect(await authenticate(users, 'alice', 'a new long password')).toMatchObject({
      role: 'admin',
    });
    expect(await authenticate(users, 'alice', 'a long password')).toBeUndefined();
    const list = await run(['users', 'list', '--file', file, '--json']);
    expect(JSON.parse(list.out)).toEqual([
      { username: 'bob', role: 'viewer' },
      { username: 'alice', role: 'admin' },
    ]);
    expect((await run(['list', '--file', file])).out).toMatch(/^bob +viewer\nalice +admin\n$/);
  });

  it('refuses bad arguments and short passwords, writing nothing', async () => {
    const cases: [string[], string, RegExp][] = [
      [['users'], '', /a command is required/],
      [['users', 'remove', '--file', file], '', /unknown command remove/],
      [
        ['users', 'add', '--username', 'a', '--role', 'viewer'],
        'long enough pw',
        /--file is required/,
      ],
      [
        ['add', '--file', file, '--username', 'a b', '--role', 'root'],
        'long enough pw',
        /--username must[\s\S]*--role must/,
      ],
      [
        ['add', '--file', file, '--username', 'a', '--role', 'viewer'],
        'short',
        /at least 12 characters/,
      ],
      [['add', '--bogus'], '', /Unknown option '--bogus'/],
    ];
    for (const [argv, password, message] of cases) {
      const r = await run(argv, password);
      expect(r.code, argv.join(' ')).toBe(2);
      expect(r.err, argv.join(' ')).toMatch(message);
    }
    await expect(stat(file)).rejects.toThrow(/ENOENT/);
    const list = await run(['list', '--file', file]);
    expect(list.code).toBe(1);
    expect(list.err).toMatch(/does not exist/);
  });
});
