#!/usr/bin/env node
import { readFile, rename, writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { hashPassword, parseUsers } from './auth.js';
import type { Role, User } from './model.js';

const HELP = `Usage: node dist/add-user.js --file <users.json> --username <name> --role <viewer|operator|admin> < password-file

Adds a console user (or replaces the password and role of an existing one) in the users file read
by the console (MS_CONSOLE_USERS_FILE). The password is hashed with bcrypt; only the hash is
stored. The password is read from stdin (first line), so it never appears in the process list or
shell history. The file is created when it does not exist.

  --file            users file (JSON: {"users":[{"username","role","passwordHash"}]})
  --username        1-64 characters of A-Z a-z 0-9 . _ @ -
  --role            viewer (read only), operator (may send metering), admin
  --help            this text
`;

async function readStdinLine(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return (Buffer.concat(chunks).toString('utf8').split(/\r?\n/)[0] ?? '').trim();
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      file: { type: 'string' },
      username: { type: 'string' },
      role: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  const problems: string[] = [];
  if (!values.file) problems.push('--file is required');
  if (!values.username || !/^[A-Za-z0-9._@-]{1,64}$/.test(values.username))
    problems.push('--username must be 1-64 characters of A-Z a-z 0-9 . _ @ -');
  if (values.role !== 'viewer' && values.role !== 'operator' && values.role !== 'admin')
    problems.push('--role must be viewer, operator or admin');
  if (problems.length > 0) {
    process.stderr.write(`${problems.join('\n')}\n\n${HELP}`);
    return 2;
  }
  const password = await readStdinLine();
  if (password.length < 12) {
    process.stderr.write('the password (read from stdin) must be at least 12 characters\n');
    return 2;
  }
  const file = values.file as string;
  let users: User[] = [];
  let text: string | undefined;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    // A missing file is created; any other read error is reported.
    if ((err as { code?: string }).code !== 'ENOENT') throw err;
  }
  if (text !== undefined) users = parseUsers(text, file);
  const user: User = {
    username: values.username as string,
    role: values.role as Role,
    passwordHash: await hashPassword(password),
  };
  const next = [...users.filter((u) => u.username !== user.username), user];
  const tmp = `${file}.tmp`;
  await writeFile(tmp, `${JSON.stringify({ users: next }, null, 2)}\n`, { mode: 0o600 });
  await rename(tmp, file);
  process.stdout.write(
    `${users.some((u) => u.username === user.username) ? 'updated' : 'added'} ${user.username} (${user.role}) in ${file}\n`,
  );
  return 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
