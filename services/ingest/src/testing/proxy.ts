import { createServer, connect, type Server, type Socket } from 'node:net';

/**
 * A TCP proxy in front of the shared broker that a test can take down and bring back, to
 * simulate a broker outage without stopping the broker other tests use. Clients reach it through
 * a kafkajs `socketFactory` that sends every connection (including to the advertised broker
 * address from metadata) to the proxy.
 */
export class ToggleProxy {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  port = 0;

  constructor(
    private readonly targetHost: string,
    private readonly targetPort: number,
  ) {}

  async up(): Promise<void> {
    const server = createServer((client) => {
      const upstream = connect({ host: this.targetHost, port: this.targetPort });
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on('close', () => this.sockets.delete(s));
        s.on('error', () => {
          client.destroy();
          upstream.destroy();
        });
      }
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
    const addr = server.address();
    if (typeof addr === 'object' && addr !== null) this.port = addr.port;
    this.server = server;
  }

  /** Refuses new connections and cuts every open one, like a crashed broker. */
  async down(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const s of this.sockets) s.destroy();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** A kafkajs socketFactory that connects everything to this proxy. */
  socketFactory = ({
    onConnect,
  }: {
    host: string;
    port: number;
    ssl: unknown;
    onConnect: () => void;
  }): Socket => {
    const s = connect({ host: '127.0.0.1', port: this.port }, onConnect);
    s.setKeepAlive(true, 60_000);
    return s;
  };
}
