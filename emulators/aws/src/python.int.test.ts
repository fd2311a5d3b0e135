import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, expect, it } from 'vitest';
import { startEmulator, type RunningEmulator } from './start.js';
import { ensureBotoVenv } from './testing/boto-venv.js';

const script = resolve(fileURLToPath(new URL('.', import.meta.url)), '../python/conversation.py');
let emulator: RunningEmulator | undefined;
afterEach(async () => {
  await emulator?.close();
});

it('boto3 conversation (metering, ResolveCustomer, entitlement, cloudtrail, agreements) gets the answers AWS gives', async () => {
  // No python or boto3 is a failure, not a skip: CI has python, and this is the cross-SDK check.
  const python = ensureBotoVenv();
  emulator = await startEmulator({ port: 0, cloudTrailDelayMs: 300 });
  const url = emulator.url;
  // Async: the emulator runs in this process, so a synchronous child would deadlock it.
  const result = await new Promise<{ code: number; out: string }>((done) => {
    execFile(python, [script, url], { timeout: 90_000 }, (err, stdout, stderr) => {
      done({ code: err ? Number(err.code ?? 1) : 0, out: `${stdout}\n${stderr}` });
    });
  });
  expect(result.out).toContain('conversation OK');
  expect(result.code).toBe(0);
  // The script really talked to this emulator.
  expect(emulator.core.state.billing.length).toBe(5);
});
