import pg from 'pg';

// Waits before reconnecting a lost listening connection: first, and longest.
const RETRY_FIRST_MS = 500;
const RETRY_MAX_MS = 30_000;

/** What a listener is told. */
export interface ChannelHandlers {
  /** A notification on one of the channels. */
  notice(channel: string, payload: string): void;
  /**
   * Listening again after the connection was lost: whatever was announced meanwhile was not
   * heard. A failure (a rejected promise) ends the new connection, which is then tried again.
   */
  missed(): void | Promise<void>;
}

/**
 * One connection of its own that LISTENs on some channels for as long as the server runs (a
 * client with the pool's settings, not one of the pool's connections: it is held). A lost
 * connection (PostgreSQL restarted, a network cut) is replaced, with waits that double up to
 * `RETRY_MAX_MS`, and never crashes the process.
 */
export class ChannelListener {
  private client: pg.Client | undefined;
  private listening: Promise<void> | undefined;
  private retryMs = RETRY_FIRST_MS;
  private retry: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    private readonly config: pg.ClientConfig,
    private readonly channels: readonly string[],
    private readonly handlers: ChannelHandlers,
  ) {}

  /** Opens the connection (once, until closed); resolves once it listens, throws when PostgreSQL cannot be reached. */
  listen(): Promise<void> {
    this.closed = false;
    this.listening ??= this.connect().catch((error: unknown) => {
      this.listening = undefined;
      throw error;
    });
    return this.listening;
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.retry);
    const client = this.client;
    this.client = undefined;
    this.listening = undefined;
    await client?.end().catch(() => undefined);
  }

  private async connect(): Promise<void> {
    const client = new pg.Client(this.config);
    client.on('error', () => this.lost(client));
    client.on('end', () => this.lost(client));
    client.on('notification', (message) => {
      if (message.payload && this.channels.includes(message.channel)) {
        this.handlers.notice(message.channel, message.payload);
      }
    });
    try {
      await client.connect();
      await client.query(this.channels.map((channel) => `LISTEN ${pg.escapeIdentifier(channel)};`).join(' '));
    } catch (error) {
      await client.end().catch(() => undefined);
      throw error;
    }
    if (this.closed) return void (await client.end().catch(() => undefined));
    this.client = client;
    this.retryMs = RETRY_FIRST_MS;
  }

  private lost(client: pg.Client): void {
    if (this.closed || this.client !== client) return;
    this.client = undefined;
    this.listening = undefined;
    this.reconnectLater();
  }

  private reconnectLater(): void {
    this.retry = setTimeout(() => void this.reconnect(), this.retryMs);
    this.retryMs = Math.min(this.retryMs * 2, RETRY_MAX_MS);
  }

  private async reconnect(): Promise<void> {
    if (this.closed) return;
    try {
      await this.listen();
    } catch {
      return this.reconnectLater();
    }
    const client = this.client;
    try {
      await this.handlers.missed();
    } catch {
      await client?.end().catch(() => undefined);
    }
  }
}
