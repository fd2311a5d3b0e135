import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';

/**
 * A TCP proxy in front of one real service (the shared broker, ClickHouse) that a test takes down
 * and brings back, to simulate an outage without stopping what other tests use. `down()` refuses
 * new connections and cuts every open one, like a crashed server; `up()` listens again on the
 * same port. `mute()` loses the answers: requests still reach the service, nothing comes back.
 */
export class FaultProxy {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  private muted = false;
  /** The port clients connect to (chosen at the first `up()`, kept after). */
  port = 0;

  constructor(
    private readonly targetHost: string,
    private readonly targetPort: number,
  ) {}

  /** A proxy for `host:port` (e.g. `127.0.0.1:9092`) or the host and port of a URL. */
  static to(address: string): FaultProxy {
    const url = new URL(address.includes('://') ? address : `tcp://${address}`);
    return new FaultProxy(url.hostname, Number(url.port));
  }

  /** Listens (again); a no-op while up. */
  async up(): Promise<void> {
    if (this.server) return;
    const server = createServer((client) => {
      const upstream = connect({ host: this.targetHost, port: this.targetPort });
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on('close', () => this.sockets.delete(s));
        s.on('error', () => s.destroy());
      }
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
      client.pipe(upstream);
      upstream.on('data', (chunk: Buffer) => {
        if (!this.muted) client.write(chunk);
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
    this.port = (server.address() as AddressInfo).port;
    this.server = server;
  }

  /**
   * From now on the service's answers are dropped: it receives and acts on every request (a
   * broker writes the batch), the client hears nothing, as when a connection dies after the
   * request went out. Until {@link down}, which also ends the muting (a muted stream has lost
   * bytes mid-answer: it must not be used again).
   */
  mute(): void {
    this.muted = true;
  }

  /** Refuses new connections and cuts every open one. */
  async down(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    this.muted = false;
    for (const s of this.sockets) s.destroy();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** The proxy's address as `http://127.0.0.1:<port>` (for an HTTP service such as ClickHouse). */
  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /**
   * For `createKafkaClient`'s `route` option (@meterstream/kafka): every connection of the client,
   * including those to the broker address advertised in metadata, goes to this proxy.
   */
  route = (): { host: string; port: number } => ({ host: '127.0.0.1', port: this.port });
}
