import type { Database } from 'settee/browser';
import type { Till } from './model.js';

/** A till at work: who it is, its local database and the server it syncs with. */
export interface Session {
  till: Till;
  db: Database;
  /** The server's URL, e.g. `http://127.0.0.1:5984`. */
  server: string;
}

/** One tab of the app: its element, and a refresh after the database changed. */
export interface View {
  readonly element: HTMLElement;
  refresh(): Promise<void>;
}
