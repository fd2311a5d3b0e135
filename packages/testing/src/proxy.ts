import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';

/**
 * A TCP proxy in front of one real service (the shared broker, ClickHouse) that a test takes down
 * and brings back, to simulate an outage without stopping what other tests use. `down()` refuses
 * new connections and cuts every open one, like a crashed server; `up()` listens again on the
 * same port.
 */
export class FaultProxy {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
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
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
    this.port = (server.address() as AddressInfo).port;
    this.server = server;
  }

  /** Refuses new connections and cuts every open one. */
  async down(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const s of this.sockets) s.destroy();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** The proxy's address as `http://127.0.0.1:<port>` (for an HTTP service such as ClickHouse). */
  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /**
   * A kafkajs `socketFactory` that connects everything to this proxy, including connections to
   * the broker address advertised in metadata.
   */
  socketFactory = ({ onConnect }: { onConnect: () => void }): Socket => {
    const s = connect({ host: '127.0.0.1', port: this.port }, onConnect);
    s.setKeepAlive(true, 60_000);
    return s;
  };
}
