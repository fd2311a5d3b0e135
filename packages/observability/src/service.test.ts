import { describe, expect, it } from 'vitest';
import { runService, type ServiceHandle } from './service.js';

function handle(ready: Promise<void>, closed: string[]): ServiceHandle {
  return { ready, close: () => Promise.resolve(void closed.push('closed')) };
}

describe('runService', () => {
  it('starts the service and does not exit while it runs', async () => {
    const exits: number[] = [];
    const closed: string[] = [];
    await runService('svc', { logLevel: 'silent', exit: (c) => exits.push(c) }, () =>
      Promise.resolve(handle(Promise.resolve(), closed)),
    );
    expect(exits).toEqual([]);
    expect(closed).toEqual([]);
  });

  it('exits 1 when start throws', async () => {
    const exits: number[] = [];
    await runService('svc', { logLevel: 'silent', exit: (c) => exits.push(c) }, () =>
      Promise.reject(new Error('no broker')),
    );
    expect(exits).toEqual([1]);
  });

  it('closes what started and exits 1 when it never becomes ready', async () => {
    const exits: number[] = [];
    const closed: string[] = [];
    await runService('svc', { logLevel: 'silent', exit: (c) => exits.push(c) }, () =>
      Promise.resolve(handle(Promise.reject(new Error('group join failed')), closed)),
    );
    expect(closed).toEqual(['closed']);
    expect(exits).toEqual([1]);
  });
});
