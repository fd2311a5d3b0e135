/** A call of the AWS emulator's admin API (`/_admin/...`): JSON in, JSON out. */
export type EmulatorAdmin = (method: string, path: string, body?: unknown) => Promise<unknown>;

/**
 * The admin API of the emulator at `baseUrl` (products, subscriptions, faults, clock, billing,
 * CloudTrail). Throws with the method, path, status and answer when the emulator refuses.
 */
export function emulatorAdmin(baseUrl: string): EmulatorAdmin {
  return async (method, path, body) => {
    const res = await fetch(`${baseUrl}${path}`, {
      method,
      ...(body === undefined
        ? {}
        : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
    });
    if (!res.ok) throw new Error(`emulator ${method} ${path}: ${res.status} ${await res.text()}`);
    return res.json();
  };
}
