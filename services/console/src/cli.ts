#!/usr/bin/env node
// `meterstream users` (and `meterstream-console-users`): the console's users in its users file.
import { readFile, rename, writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { isEntryPoint } from '@meterstream/config';
import { hashPassword, parseUsers } from './auth.js';
import type { Role, User } from './model.js';

const HELP = `Usage: meterstream users <command> --file <users.json> [options]

The users of the seller console, in the users file it reads (MS_CONSOLE_USERS_FILE; the console
reads it at start, so restart it after a change). Only bcrypt hashes are stored.

Commands:
  add --username <name> --role <viewer|operator|admin> < password-file
        add a user, or replace the password and role of an existing one; the password is read
        from stdin (first line, at least 12 characters), so it never appears in the process
        list or shell history; the file is created when it does not exist
  list [--json]
        the users and their roles (never the hashes)

Options:
  --file <path>     users file (JSON: {"users":[{"username","role","passwordHash"}]})
  --username        1-64 characters of A-Z a-z 0-9 . _ @ -
  --role            viewer (read only), operator (may send metering), admin (also sees users)
  -h, --help        this text
`;

/** Where the CLI writes and reads; tests pass their own. */
export interface CliIo {
  out: (s: string) => void;
  err: (s: string) => void;
  /** The new password (add). */
  readPassword: () => Promise<string>;
}

async function readStdinLine(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return (Buffer.concat(chunks).toString('utf8').split(/\r?\n/)[0] ?? '').trim();
}

const defaultIo: CliIo = {
  out: (s) => process.stdout.write(s),
  err: (s) => process.stderr.write(s),
  readPassword: readStdinLine,
};

/** The users in `file`, or undefined when it does not exist (any other read error is thrown). */
async function readUsersFile(file: string): Promise<User[] | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as { code?: string }).code === 'ENOENT') return undefined;
    throw err;
  }
  return parseUsers(text, file);
}

/** Replaces the file atomically, readable by its owner only (it holds password hashes). */
async function writeUsersFile(file: string, users: readonly User[]): Promise<void> {
  const tmp = `${file}.tmp`;
  await writeFile(tmp, `${JSON.stringify({ users }, null, 2)}\n`, { mode: 0o600 });
  await rename(tmp, file);
}

interface AddArgs {
  file: string;
  username?: string | undefined;
  role?: string | undefined;
}

async function addUser(a: AddArgs, io: CliIo): Promise<number> {
  const problems: string[] = [];
  if (!a.username || !/^[A-Za-z0-9._@-]{1,64}$/.test(a.username))
    problems.push('--username must be 1-64 characters of A-Z a-z 0-9 . _ @ -');
  if (a.role !== 'viewer' && a.role !== 'operator' && a.role !== 'admin')
    problems.push('--role must be viewer, operator or admin');
  if (problems.length > 0) {
    io.err(`${problems.join('\n')}\n\n${HELP}`);
    return 2;
  }
  const password = await io.readPassword();
  if (password.length < 12) {
    io.err('the password (read from stdin) must be at least 12 characters\n');
    return 2;
  }
  const users = (await readUsersFile(a.file)) ?? [];
  const user: User = {
    username: a.username as string,
    role: a.role as Role,
    passwordHash: await hashPassword(password),
  };
  await writeUsersFile(a.file, [...users.filter((u) => u.username !== user.username), user]);
  const verb = users.some((u) => u.username === user.username) ? 'updated' : 'added';
  io.out(`${verb} ${user.username} (${user.role}) in ${a.file}\n`);
  return 0;
}

async function listUsers(file: string, json: boolean, io: CliIo): Promise<number> {
  const users = await readUsersFile(file);
  if (!users) {
    io.err(`${file} does not exist: add a user first (meterstream users add --help)\n`);
    return 1;
  }
  const shown = users.map(({ username, role }) => ({ username, role }));
  if (json) io.out(`${JSON.stringify(shown)}\n`);
  else for (const u of shown) io.out(`${u.username.padEnd(24)} ${u.role}\n`);
  return 0;
}

/** Runs the CLI with `argv` (without node and script; a leading `users` is skipped); returns the exit code. */
export async function runCli(argv: string[], io: Partial<CliIo> = {}): Promise<number> {
  const all: CliIo = { ...defaultIo, ...io };
  const { out, err } = all;
  let parsed;
  try {
    parsed = parseArgs({
      args: argv[0] === 'users' ? argv.slice(1) : argv,
      allowPositionals: true,
      options: {
        file: { type: 'string' },
        username: { type: 'string' },
        role: { type: 'string' },
        json: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
      strict: true,
    });
  } catch (e) {
    err(`${(e as Error).message}\n\n${HELP}`);
    return 2;
  }
  const { values, positionals } = parsed;
  const [command] = positionals;
  if (values.help || command === 'help') {
    out(HELP);
    return 0;
  }
  if (command !== 'add' && command !== 'list') {
    err(
      `${command === undefined ? 'a command is required' : `unknown command ${command}`}\n\n${HELP}`,
    );
    return 2;
  }
  if (!values.file) {
    err(`--file is required\n\n${HELP}`);
    return 2;
  }
  return command === 'add'
    ? addUser({ file: values.file, username: values.username, role: values.role }, all)
    : listUsers(values.file, values.json, all);
}

if (isEntryPoint(import.meta.url)) {
  runCli(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e: unknown) => {
      process.stderr.write(`meterstream users: ${e instanceof Error ? e.message : String(e)}\n`);
      process.exit(1);
    },
  );
}
