/**
 * The till web app: log in as the till's own user once, then sell, give back, edit products and
 * see what was merged — online or not. Sales stay in the till's IndexedDB until the network
 * returns; the sync (one tab per till) then carries them to the server and brings the other
 * tills' back. A service worker keeps the app itself, so the page opens with the network off.
 */
import { type BrowserSync, conflicts, logIn, pageFetch, SetteeError, syncInBrowser } from 'settee/browser';
import { SHOP_DB } from './catalog.js';
import { fill, h } from './dom.js';
import { openTillDatabase } from './model.js';
import { productsView } from './products.js';
import { resolutionsView } from './resolutions.js';
import { salesView } from './sales.js';
import { sellView } from './sell.js';
import type { Session, View } from './session.js';

/** The server, as the deployment wrote it into index.html. */
const SERVER = document
  .querySelector<HTMLMetaElement>('meta[name="settee-server"]')!
  .content.replace(/\/+$/, '');
/** The till this browser is, remembered so that the app opens offline without a login. */
const TILL_KEY = 'pos:till';

const main = document.querySelector('main')!;
const header = document.querySelector('header .who')!;

void navigator.serviceWorker?.register('./sw.js').then(async () => {
  await navigator.serviceWorker.ready;
  document.querySelector('#offline-ready')!.textContent = 'Works offline';
});

const remembered = localStorage.getItem(TILL_KEY);
if (remembered) void start(remembered);
else showLogin();

/** The login form; `then` runs once the server accepted the till's name and password. */
function loginForm(name: string, then: (till: string) => Promise<void>): HTMLFormElement {
  const error = h('p', { id: 'login-error', role: 'alert' });
  const form = h(
    'form',
    { class: 'login', 'aria-label': 'Log in' },
    h(
      'label',
      {},
      'Till',
      h('input', { id: 'login-name', autocomplete: 'username', value: name, required: true }),
    ),
    h(
      'label',
      {},
      'Password',
      h('input', {
        id: 'login-password',
        type: 'password',
        autocomplete: 'current-password',
        required: true,
      }),
    ),
    h('button', { type: 'submit', class: 'primary' }, 'Log in'),
    error,
  );
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const read = (id: string) => (form.querySelector(`#${id}`) as HTMLInputElement).value.trim();
    const till = read('login-name');
    logIn(SERVER, { username: till, password: read('login-password') })
      .then(() => then(till))
      .catch((failure: Error) => {
        error.textContent = navigator.onLine
          ? failure.message
          : 'Connect this till to the network to log in.';
      });
  });
  return form;
}

function showLogin(): void {
  fill(
    main,
    loginForm('', async (till) => {
      localStorage.setItem(TILL_KEY, till);
      await start(till);
    }),
  );
}

/** Opens the till's database, starts its sync and shows the app. */
async function start(till: string): Promise<void> {
  const session: Session = {
    till: { name: till, clock: tillClock(till) },
    db: await openTillDatabase(till),
    server: SERVER,
  };
  const state = h('span', { id: 'sync-state', role: 'status' });
  fill(
    header,
    h('span', { id: 'logged-in' }, `Logged in as ${till}`),
    state,
    h('button', { onclick: () => void logOut() }, 'Log out'),
  );
  let sync = startSync(session, state);
  const banner = h('div', { class: 'banner' });
  showViews(session, banner);
  // The sync stops for good when the session expired: log in again, the till keeps selling meanwhile.
  sync.on('error', function relogin({ error }) {
    if (!(error instanceof SetteeError && error.status === 401)) return;
    fill(
      banner,
      'Log in again to sync: ',
      loginForm(till, async () => {
        fill(banner);
        sync = startSync(session, state);
        sync.on('error', relogin);
      }),
    );
  });
}

/** The live sync with the server's database, and its state in the header. */
function startSync(session: Session, state: HTMLElement): BrowserSync {
  const sync = syncInBrowser(session.db, `${SERVER}/${SHOP_DB}`, {
    credentials: 'include',
    // One syncing tab per till; other tabs of the same till follow it.
    lock: `pos-sync:${session.till.name}`,
    persist: true,
  });
  const words = {
    syncing: 'Online',
    offline: 'Offline: sales are kept on this till',
    following: 'Synced by another tab',
  };
  const show = () => (state.textContent = sync.state === 'stopped' ? 'Not syncing' : words[sync.state]);
  sync.on('state', show);
  sync.on('error', ({ error }) => (state.textContent = `Not syncing: ${error.message}`));
  show();
  return sync;
}

/** The tabs of the app, each refreshed when the database changes while it is shown. */
function showViews(session: Session, banner: HTMLElement): void {
  const views: Record<string, View> = {
    Sell: sellView(session),
    Sales: salesView(session),
    Products: productsView(session),
    Resolved: resolutionsView(session),
  };
  let current = views.Sell!;
  const tabs = Object.entries(views).map(([name, view]) =>
    h(
      'button',
      { role: 'tab', 'aria-selected': String(view === current), onclick: () => void show(name) },
      name,
    ),
  );
  const panel = h('div', { role: 'tabpanel' }, current.element);
  fill(main, banner, h('nav', { role: 'tablist' }, ...tabs), panel);

  async function show(name: string): Promise<void> {
    current = views[name]!;
    for (const tab of tabs) tab.setAttribute('aria-selected', String(tab.textContent === name));
    fill(panel, current.element);
    await current.refresh();
  }

  void current.refresh().then(() => followChanges(session, () => current.refresh()));
}

/** Calls `refresh` after every write to the database (this tab's, another tab's, the sync's). */
async function followChanges(session: Session, refresh: () => Promise<void>): Promise<void> {
  let seen = session.db.updateSeq();
  for (;;) {
    if (session.db.updateSeq() === seen) await session.db.nextChange();
    seen = session.db.updateSeq();
    await refresh();
  }
}

/**
 * The till's hybrid logical clock; its last stamp is kept in localStorage so that, after a
 * reload, a wall clock set back never makes the till's next edit look older than its last.
 */
function tillClock(till: string): conflicts.StampClock {
  const key = `pos:clock:${till}`;
  const clock = new conflicts.HybridClock(till, Date.now, { last: localStorage.getItem(key) ?? undefined });
  const kept = (stamp: string) => {
    localStorage.setItem(key, stamp);
    return stamp;
  };
  return { tick: () => kept(clock.tick()), receive: (stamp) => kept(clock.receive(stamp)) };
}

/**
 * Forgets which till this browser is and ends the till user's sessions. The till's database
 * stays: sales not yet synced go to the server when the till logs in again.
 */
async function logOut(): Promise<void> {
  await pageFetch('include')(`${SERVER}/_session`, { method: 'DELETE' }).catch(() => undefined);
  localStorage.removeItem(TILL_KEY);
  location.reload();
}
