import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import type { ServiceModel } from '../model/validator.js';

const repoRoot = resolve(fileURLToPath(new URL('.', import.meta.url)), '../../../..');

/** The stack's Python venv with boto3 (botocore models are read from it, never committed). */
export const VENV_DIR = join(repoRoot, '.stack/cache/venv-boto3');
export const VENV_PYTHON = join(VENV_DIR, 'bin/python');

function findPython(): string {
  // pyenv's python first where pyenv is installed (the system one may lack ensurepip), then PATH.
  const candidates = [join(homedir(), '.pyenv/shims/python3'), 'python3', 'python'];
  for (const c of candidates) {
    try {
      execFileSync(c, ['-c', 'import venv'], { stdio: 'ignore' });
      return c;
    } catch {
      // try the next one
    }
  }
  // Fail loudly: CI has python, so a missing one is a broken environment, not a reason to skip.
  throw new Error(
    'no python3 with the venv module found; the AWS contract tests need python3 + boto3',
  );
}

/** Creates the venv and installs boto3 when missing; returns the venv's python. */
export function ensureBotoVenv(): string {
  const ok = (): boolean => {
    if (!existsSync(VENV_PYTHON)) return false;
    try {
      execFileSync(VENV_PYTHON, ['-c', 'import boto3'], { stdio: 'ignore' });
      return true;
    } catch {
      return false;
    }
  };
  if (ok()) return VENV_PYTHON;
  execFileSync(findPython(), ['-m', 'venv', VENV_DIR], { stdio: 'inherit' });
  execFileSync(VENV_PYTHON, ['-m', 'pip', 'install', '--quiet', 'boto3'], {
    stdio: 'inherit',
    timeout: 300_000,
  });
  if (!ok()) throw new Error(`boto3 did not install into ${VENV_DIR}`);
  return VENV_PYTHON;
}

/** A full botocore service model as shipped in the venv. */
export interface BotocoreModel extends ServiceModel {
  metadata: Record<string, unknown>;
}

/** Loads `botocore/data/<service>/<version>/service-2.json(.gz)` from the venv. */
export function loadBotocoreModel(service: string, version: string): BotocoreModel {
  const python = ensureBotoVenv();
  const dataDir = execFileSync(python, [
    '-c',
    'import botocore, os; print(os.path.join(os.path.dirname(botocore.__file__), "data"))',
  ])
    .toString()
    .trim();
  const base = join(dataDir, service, version, 'service-2.json');
  const text = existsSync(base)
    ? readFileSync(base, 'utf8')
    : gunzipSync(readFileSync(`${base}.gz`)).toString('utf8');
  const raw = JSON.parse(text) as {
    metadata: Record<string, unknown>;
    operations: Record<
      string,
      { input?: { shape: string }; output?: { shape: string }; errors?: { shape: string }[] }
    >;
    shapes: ServiceModel['shapes'];
  };
  const operations: ServiceModel['operations'] = {};
  for (const [name, op] of Object.entries(raw.operations)) {
    operations[name] = {
      input: op.input?.shape ?? '',
      output: op.output?.shape ?? '',
      errors: (op.errors ?? []).map((e) => e.shape),
    };
  }
  return {
    metadata: raw.metadata,
    targetPrefix: String(raw.metadata.targetPrefix),
    signingName: String(raw.metadata.signingName ?? raw.metadata.endpointPrefix),
    operations,
    shapes: raw.shapes,
  };
}
