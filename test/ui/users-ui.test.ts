/**
 * The web page for many users, end to end in a real headless Chromium: a server admin manages
 * users and a database's security; a user signs in and sees only the databases they may read.
 * Every outcome is checked again through the server's HTTP API. Screenshots go to
 * test-artifacts/ui/.
 */
import fs from 'node:fs';
import type { Browser, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN, startServer, type TestServer } from '../server/harness.js';
import {
  createUser,
  freshPage,
  getJson,
  launchChromium,
  logInAs,
  PHONE,
  quickConflicts,
  SHOTS,
} from './fixtures.js';

const TIMEOUT = 30_000;
const WRONG_PASSWORD = 'That user name and password do not match. Please try again.';

let t: TestServer;
let browser: Browser;
/** The admin's page, logged in once for the whole file (a fresh profile costs about a second). */
let admin: Page;
/** The pages of other people, each in a fresh profile, closed after each test. */
const pages: Page[] = [];
/** Uncaught errors and Content-Security-Policy refusals seen by any page: there must be none. */
const pageProblems: string[] = [];

beforeAll(async () => {
  fs.mkdirSync(SHOTS, { recursive: true });
  [t, browser] = await Promise.all([startServer({ passwordIterations: 1000 }), launchChromium()]);
  await quickConflicts(t, 'team', ['plan']);
  expect((await t.fetch('/other', { method: 'PUT' })).status).toBe(201);
  admin = await freshPage(browser, `${t.url}/_ui/`, pageProblems);
  await logInAs(admin, ADMIN.name, ADMIN.password);
}, TIMEOUT);

afterEach(async () => {
  await Promise.all(pages.splice(0).map((page) => page.context().close()));
  expect(pageProblems.splice(0)).toEqual([]);
});

afterAll(async () => {
  await admin?.context().close();
  await browser?.close();
  await t?.stop();
}, TIMEOUT);

async function openPage(hash = ''): Promise<Page> {
  const page = await freshPage(browser, `${t.url}/_ui/${hash}`, pageProblems);
  pages.push(page);
  return page;
}

async function pageAs(name: string, password: string, hash = ''): Promise<Page> {
  const page = await openPage(hash);
  await logInAs(page, name, password);
  return page;
}

/** The admin's page loaded anew at `hash`, in a window of `viewport`. */
async function adminPage(hash = '', viewport = { width: 1280, height: 860 }): Promise<Page> {
  await admin.setViewportSize(viewport);
  await admin.goto('about:blank');
  await admin.goto(`${t.url}/_ui/${hash}`);
  await admin.getByText(`Logged in as ${ADMIN.name}`).waitFor();
  return admin;
}
const text = async (page: Page, selector: string) => (await page.locator(selector).innerText()).trim();
/** The id, or failing that the text, of the focused element. */
const focused = (page: Page) =>
  page.evaluate('document.activeElement.id || document.activeElement.textContent.trim()') as Promise<string>;
const card = (page: Page, name: string) =>
  page
    .locator('.user-card')
    .filter({ has: page.locator('.user-name', { hasText: new RegExp(`^${name}$`) }) });
const dbNames = (page: Page) =>
  page.locator('.db-item').evaluateAll((items) => items.map((item) => item.getAttribute('data-db')));
/** Whether the document is wider than the window: a phone would have to scroll sideways. */
const scrollsSideways = (page: Page) =>
  page.evaluate('document.documentElement.scrollWidth > window.innerWidth') as Promise<boolean>;

async function userDoc(name: string): Promise<Response> {
  return t.fetch(`/_users/${encodeURIComponent(`org.couchdb.user:${name}`)}`);
}

async function securityOf(db: string) {
  return getJson<{
    members: { names: string[]; roles: string[] };
    admins: { names: string[]; roles: string[] };
  }>(t, `/${db}/_security`);
}

describe('users and database security in the web page', () => {
  it(
    'lets an admin create a user with a role and make that role a database’s members; the user sees only that database',
    { timeout: TIMEOUT },
    async () => {
      await adminPage();
      await admin.getByRole('link', { name: 'Users', exact: true }).click();
      await admin.locator('#create-user').waitFor();
      await admin.getByLabel('User name', { exact: true }).fill('carol');
      await admin.getByLabel('Password', { exact: true }).fill('carol-pw-1');
      await admin.getByLabel('Roles (comma-separated)', { exact: true }).fill('sales, staff,');
      await admin.getByRole('button', { name: 'Create user' }).click();
      await card(admin, 'carol').waitFor();
      expect(await card(admin, 'carol').locator('.tag-role').allInnerTexts()).toEqual(['sales', 'staff']);
      expect(await text(admin, '#notice')).toBe('Created the user “carol”.');
      // Ready for the next user.
      await expect.poll(() => focused(admin)).toBe('new-user-name');
      expect(await admin.getByLabel('User name', { exact: true }).inputValue()).toBe('');
      const stored = (await (await userDoc('carol')).json()) as Record<string, unknown>;
      expect(stored).toMatchObject({ name: 'carol', type: 'user', roles: ['sales', 'staff'] });
      expect(stored).not.toHaveProperty('password');
      expect(stored).toHaveProperty('derived_key');
      await admin.screenshot({ path: `${SHOTS}20-users.png`, fullPage: true });

      // The role becomes the members of `team`, from the keyboard.
      await admin.goto(`${t.url}/_ui/#/db/team`);
      await admin.getByRole('link', { name: 'Security' }).click();
      await admin.locator('#group-members').waitFor();
      expect(await admin.locator('#members-roles .entry').allInnerTexts()).toEqual([
        expect.stringContaining('_admin'),
      ]);
      await expect.poll(() => admin.locator('#public-warning').count()).toBe(0);
      expect(await admin.locator('#save-security').isDisabled()).toBe(true);
      await admin.getByLabel('Role to add to members').fill('sales');
      await admin.getByLabel('Role to add to members').press('Enter');
      await admin.locator('#members-roles .entry[data-entry="sales"]').waitFor();
      await expect.poll(() => focused(admin)).toBe('members-roles-input');
      expect(await text(admin, '#security-status')).toBe('You have changes that are not saved yet.');
      await admin.locator('#save-security').click();
      await admin.getByText('Saved. The security of “team” is updated.').waitFor();
      expect(await text(admin, '#security-status')).toBe('Saved.');
      expect((await securityOf('team')).members).toEqual({ names: [], roles: ['_admin', 'sales'] });
      await admin.screenshot({ path: `${SHOTS}21-security.png`, fullPage: true });

      // Carol sees `team` only, without the Users link, and settles its conflict.
      const carol = await pageAs('carol', 'carol-pw-1');
      await carol.locator('.db-item').first().waitFor();
      expect(await dbNames(carol)).toEqual(['team']);
      expect(await carol.locator('#users-link').isHidden()).toBe(true);
      expect(await text(carol, '.db-item[data-db="team"] .badge')).toBe('1 document with conflicts');
      await carol.locator('.db-item[data-db="team"]').click();
      await carol.getByRole('link', { name: 'Review' }).click();
      await carol
        .locator('#compare thead th[data-version="A"]')
        .getByRole('button', { name: 'Keep this version' })
        .click();
      await carol.locator('#save').click();
      await carol.getByText('Saved. “plan” has a single version again.').waitFor();
      expect((await getJson(t, '/team/plan?conflicts=true'))._conflicts).toBeUndefined();

      // A member reads the security but cannot change it.
      await carol.getByRole('link', { name: 'Security' }).click();
      await carol.locator('#read-only').waitFor();
      expect(await carol.locator('#members-roles .entry').allInnerTexts()).toEqual(['_admin', 'sales']);
      await expect.poll(() => carol.locator('#save-security, .add-form, .entry button').count()).toBe(0);

      // What she may not read, and the Users page, say so plainly.
      await carol.goto(`${t.url}/_ui/#/db/other`);
      await carol.locator('#notice.notice-error').waitFor();
      expect(await text(carol, '#notice')).toBe(
        'Your account is not allowed to do this. The server says: You are not allowed to access this db.',
      );
      await carol.goto(`${t.url}/_ui/#/users`);
      await carol.getByText('Only server admins can see and manage users.').waitFor();
    },
  );

  it(
    'lets a database’s own admin, not a server admin, change its security',
    { timeout: TIMEOUT },
    async () => {
      await createUser(t, 'frank', 'frank-pw');
      expect((await t.fetch('/franks', { method: 'PUT' })).status).toBe(201);
      const owner = { admins: { names: ['frank'], roles: [] }, members: { names: [], roles: ['_admin'] } };
      const put = await t.fetch('/franks/_security', { method: 'PUT', body: JSON.stringify(owner) });
      expect(put.status).toBe(200);

      const frank = await pageAs('frank', 'frank-pw', '#/db/franks/security');
      await frank.locator('#group-members').waitFor();
      await expect.poll(() => frank.locator('#read-only').count()).toBe(0);
      // The shortcut back to admin-only would shut a database admin out: server admins only.
      await expect.poll(() => frank.locator('#admin-only').count()).toBe(0);
      await frank.getByLabel('User name to add to members').fill('carol');
      await frank.getByRole('button', { name: 'Add name to members' }).click();
      await frank.locator('#save-security').click();
      await frank.getByText('Saved. The security of “franks” is updated.').waitFor();
      expect((await securityOf('franks')).members).toEqual({ names: ['carol'], roles: ['_admin'] });
      expect(await frank.locator('#users-link').isHidden()).toBe(true);
    },
  );

  it(
    'resets a password, after which the old one no longer logs in; and edits roles',
    { timeout: TIMEOUT },
    async () => {
      await createUser(t, 'dave', 'old-password', ['ops']);
      await adminPage('#/users');
      const dave = card(admin, 'dave');
      await dave.getByRole('button', { name: 'Reset password' }).click();
      await expect.poll(() => focused(admin)).toBe('password-org.couchdb.user:dave');
      await admin.getByLabel('New password for dave').fill('new-password');
      await admin.getByLabel('New password for dave').press('Enter');
      await admin.getByText('The password of “dave” is changed.').waitFor();
      await expect.poll(() => dave.locator('.panel').count()).toBe(0);
      await expect.poll(() => focused(admin)).toBe('Reset password');

      const login = await openPage();
      await login.locator('#login-name').fill('dave');
      await login.locator('#login-password').fill('old-password');
      await login.getByRole('button', { name: 'Log in' }).click();
      await login.locator('#login-error').waitFor();
      expect(await text(login, '#login-error')).toBe(WRONG_PASSWORD);
      await logInAs(login, 'dave', 'new-password');

      // Roles: a reserved one is refused and said why, with what was typed kept; then saved.
      await dave.getByRole('button', { name: 'Edit roles' }).click();
      const roles = admin.getByLabel('Roles of dave (comma-separated)');
      expect(await roles.inputValue()).toBe('ops');
      await roles.fill('ops, _admin');
      await dave.getByRole('button', { name: 'Save roles' }).click();
      await dave.locator('.panel .form-error').waitFor();
      expect(await text(admin, '.user-card .panel .form-error')).toMatch(
        /^The server refused this: .*_admin/,
      );
      expect(await roles.inputValue()).toBe('ops, _admin');
      await roles.fill('ops, support');
      await roles.press('Enter');
      await admin.getByText('The roles of “dave” are saved.').waitFor();
      expect(await dave.locator('.tag-role').allInnerTexts()).toEqual(['ops', 'support']);
      expect(((await (await userDoc('dave')).json()) as { roles: string[] }).roles).toEqual([
        'ops',
        'support',
      ]);
    },
  );

  it(
    'deletes a user only once the confirmation that names them is accepted',
    { timeout: TIMEOUT },
    async () => {
      await createUser(t, 'erin', 'erin-pw');
      await adminPage('#/users');
      const erin = card(admin, 'erin');
      await erin.getByRole('button', { name: 'Delete' }).click();
      const confirmation = erin.getByRole('group', { name: 'Delete erin' });
      expect(await confirmation.innerText()).toContain(
        'Delete the user “erin”? They will no longer be able to log in. This cannot be undone.',
      );
      // Cancel is focused first; it closes the panel and gives focus back.
      await expect.poll(() => focused(admin)).toBe('Cancel');
      await admin.keyboard.press('Enter');
      await expect.poll(() => confirmation.count()).toBe(0);
      await expect.poll(() => focused(admin)).toBe('Delete');
      expect((await userDoc('erin')).status).toBe(200);

      await admin.keyboard.press('Enter');
      await admin.getByRole('button', { name: 'Delete erin' }).click();
      await admin.getByText('Deleted the user “erin”.').waitFor();
      await expect.poll(() => erin.count()).toBe(0);
      expect((await userDoc('erin')).status).toBe(404);
    },
  );

  it(
    'warns that a database without members is public, and makes it admin-only again',
    { timeout: TIMEOUT },
    async () => {
      expect((await t.fetch('/open', { method: 'PUT' })).status).toBe(201);
      await adminPage('#/db/open/security');
      await admin.locator('#group-members').waitFor();
      await expect.poll(() => admin.locator('#public-warning').count()).toBe(0);
      await admin.getByRole('button', { name: 'Remove role _admin from members' }).click();
      await admin.locator('#public-warning').waitFor();
      expect(await text(admin, '#public-warning')).toMatch(
        /^Saving this makes the database public\. With no member names and no member roles, anyone — even without signing in — can read and write its documents\./,
      );
      // The list is empty now: focus goes to the field that adds a role.
      await expect.poll(() => focused(admin)).toBe('members-roles-input');
      await admin.locator('#save-security').click();
      await admin.getByText('Saved. The security of “open” is updated.').waitFor();
      expect(await text(admin, '#public-warning strong')).toBe('This database is public.');
      expect((await securityOf('open')).members).toEqual({ names: [], roles: [] });
      // What the warning says is so: anyone reads it, with no credentials at all.
      expect((await fetch(`${t.url}/open/_all_docs`)).status).toBe(200);
      await admin.screenshot({ path: `${SHOTS}22-security-public.png`, fullPage: true });

      await admin.reload();
      await admin.locator('#public-warning').waitFor();
      await admin.getByRole('button', { name: 'Make it admin-only' }).click();
      await expect.poll(() => admin.locator('#public-warning').count()).toBe(0);
      await admin.locator('#save-security').click();
      await admin.getByText('Saved. The security of “open” is updated.').waitFor();
      expect(await securityOf('open')).toEqual({
        members: { names: [], roles: ['_admin'] },
        admins: { names: [], roles: ['_admin'] },
      });
      expect((await fetch(`${t.url}/open/_all_docs`)).status).toBe(401);
    },
  );

  it(
    'shows hostile names as text, and fits a phone without sideways scrolling',
    { timeout: TIMEOUT },
    async () => {
      const hostile = '<img src=x onerror="window.__xss=1">';
      await createUser(t, hostile, 'pw');
      await adminPage('#/users', PHONE);
      const hostileCard = admin.locator('.user-card', {
        has: admin.locator('.user-name', { hasText: hostile }),
      });
      await hostileCard.waitFor();
      await expect.poll(() => admin.locator('#view img').count()).toBe(0);
      // The longest thing a card shows: the confirmation naming the user, and its button.
      await hostileCard.getByRole('button', { name: 'Delete' }).click();
      await hostileCard.locator('#confirm-delete').waitFor();
      expect(await scrollsSideways(admin)).toBe(false);
      await admin.screenshot({ path: `${SHOTS}23-users-phone.png`, fullPage: true });

      await admin.goto(`${t.url}/_ui/#/db/team/security`);
      await admin.getByLabel('User name to add to members').fill(hostile);
      await admin.getByRole('button', { name: 'Add name to members' }).click();
      await admin.locator('#members-names .entry').waitFor();
      expect(await text(admin, '#members-names .entry-text')).toBe(hostile);
      await expect.poll(() => admin.locator('#view img').count()).toBe(0);
      expect(await scrollsSideways(admin)).toBe(false);
      await admin.screenshot({ path: `${SHOTS}24-security-phone.png`, fullPage: true });
      expect(await admin.evaluate('window.__xss')).toBeUndefined();
    },
  );
});
