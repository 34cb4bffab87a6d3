/**
 * A value as CouchDB's reasons show it (Erlang's `~p`): strings quoted, numbers bare. Settee
 * writes JSON where Erlang would write a term (`"a"` rather than `<<"a">>`).
 */
export function shown(value: unknown): string {
  return JSON.stringify(value) ?? String(value);
}
