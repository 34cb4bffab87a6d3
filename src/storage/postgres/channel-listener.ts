import pg from 'pg';

// Waits before reconnecting a lost listening connection: first, and longest.
const RETRY_FIRST_MS = 500;
const RETRY_MAX_MS = 30_000;

/**
 * One connection of its own that LISTENs on one channel for as long as the server runs. A lost
 * connection (PostgreSQL restarted, a network cut) is replaced, with waits that double up to
 * `RETRY_MAX_MS`; once listening again, `onMissed` is called, since whatever was announced
 * meanwhile was not heard.
 */
export class ChannelListener {
  private client: pg.Client | undefined;
  private retryMs = RETRY_FIRST_MS;
  private retry: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    private readonly config: pg.ClientConfig,
    private readonly channel: string,
    private readonly onNotice: (payload: string) => void,
    private readonly onMissed: () => void,
  ) {}

  /** Resolves once the connection listens; throws when PostgreSQL cannot be reached. */
  async listen(): Promise<void> {
    this.client = await this.connect();
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.retry);
    const client = this.client;
    this.client = undefined;
    await client?.end().catch(() => undefined);
  }

  private async connect(): Promise<pg.Client> {
    const client = new pg.Client(this.config);
    // A lost connection is reported here (not thrown): it is replaced, never left to crash the process.
    client.on('error', () => this.lost(client));
    client.on('end', () => this.lost(client));
    client.on('notification', (message) => {
      if (message.channel === this.channel && message.payload) this.onNotice(message.payload);
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${pg.escapeIdentifier(this.channel)}`);
    } catch (error) {
      await client.end().catch(() => undefined);
      throw error;
    }
    return client;
  }

  private lost(client: pg.Client): void {
    if (this.closed || this.client !== client) return;
    this.client = undefined;
    this.reconnectLater();
  }

  private reconnectLater(): void {
    this.retry = setTimeout(() => void this.reconnect(), this.retryMs);
    this.retryMs = Math.min(this.retryMs * 2, RETRY_MAX_MS);
  }

  private async reconnect(): Promise<void> {
    if (this.closed) return;
    let client: pg.Client;
    try {
      client = await this.connect();
    } catch {
      return this.reconnectLater();
    }
    if (this.closed) return void (await client.end().catch(() => undefined));
    this.client = client;
    this.retryMs = RETRY_FIRST_MS;
    this.onMissed();
  }
}
