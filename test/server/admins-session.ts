/** Signing in with a cookie, for the tests of several server admins (admins-*.test.ts). */

/** `POST /_session` with a name and password: its status and the `AuthSession` cookie, if any. */
export async function logIn(url: string, name: string, password: string) {
  const response = await fetch(`${url}/_session`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name, password }),
  });
  const cookie = response.headers.get('set-cookie')?.split(';')[0];
  return { status: response.status, cookie };
}

/** `GET /_session` with a cookie: who the server takes its bearer for. */
export async function sessionWith(url: string, cookie: string) {
  const response = await fetch(`${url}/_session`, { headers: { cookie } });
  return (await response.json()) as { userCtx: { name: string | null; roles: string[] } };
}
