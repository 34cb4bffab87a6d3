/**
 * A database's security object and who it lets in (protocol.md §5.3), as CouchDB 3: server admins
 * pass everything; a database's admins may also write design documents and `_security`; members
 * read and write documents. A database whose members name nobody is public.
 */
import type { UserContext } from '../core/api.js';
import { badRequest } from '../core/errors.js';

export const ADMIN_ROLE = '_admin';

/** Names and roles of one group of a security object. */
export interface SecurityGroup {
  names: string[];
  roles: string[];
}

/** `{admins, members}` and whatever other fields the application keeps there. */
export interface SecurityObject {
  admins: SecurityGroup;
  members: SecurityGroup;
  [field: string]: unknown;
}

/** What CouchDB 3 gives a new database: server admins only, until an admin names members. */
export function adminOnlySecurity(): SecurityObject {
  return { members: { names: [], roles: [ADMIN_ROLE] }, admins: { names: [], roles: [ADMIN_ROLE] } };
}

/** A database of one user, as couch_peruser makes it: that user is its admin and its member. */
export function ownerSecurity(name: string): SecurityObject {
  return { admins: { names: [name], roles: [] }, members: { names: [name], roles: [] } };
}

/**
 * The security object of a deleted user's kept database, as couch_peruser leaves it: without
 * that name (`remove_user` in src/couch_peruser/src/couch_peruser.erl), so that whoever gets the
 * name next does not get the data. A database that was private stays private: members left
 * naming nobody become server admins only, never everyone. Without that name, `security` itself.
 */
export function withoutName(security: SecurityObject, name: string): SecurityObject {
  const named = [security.admins, security.members].some((group) => group.names.includes(name));
  if (!named) return security;
  const drop = (group: SecurityGroup): SecurityGroup => ({
    ...group,
    names: group.names.filter((member) => member !== name),
  });
  const next = { ...security, admins: drop(security.admins), members: drop(security.members) };
  if (isPublic(next) && !isPublic(security)) next.members = { names: [], roles: [ADMIN_ROLE] };
  return next;
}

/**
 * A security object as a client sends it: an object whose `admins` and `members`, when given,
 * are objects of string arrays `names` and `roles`. Anything else is a 400 and changes nothing.
 */
export function parseSecurity(body: unknown): SecurityObject {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw badRequest('The security object must be a JSON object');
  }
  const fields = body as Record<string, unknown>;
  return {
    ...fields,
    admins: parseGroup(fields.admins, 'admins'),
    members: parseGroup(fields.members, 'members'),
  };
}

function parseGroup(value: unknown, label: string): SecurityGroup {
  if (value === undefined) return { names: [], roles: [] };
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw badRequest(`${label} must be a JSON object with "names" and "roles"`);
  }
  const { names = [], roles = [], ...rest } = value as Record<string, unknown>;
  for (const [field, list] of [
    ['names', names],
    ['roles', roles],
  ] as const) {
    if (!Array.isArray(list) || !list.every((item) => typeof item === 'string')) {
      throw badRequest(`${label}.${field} must be an array of strings`);
    }
  }
  return { ...rest, names: names as string[], roles: roles as string[] };
}

/** A stored security object, whatever an older version stored: unreadable groups name nobody. */
export function securityOf(stored: Record<string, unknown>): SecurityObject {
  try {
    return parseSecurity(stored);
  } catch {
    return { ...stored, admins: { names: [], roles: [] }, members: { names: [], roles: [ADMIN_ROLE] } };
  }
}

export function isServerAdmin(userCtx: UserContext): boolean {
  return userCtx.roles.includes(ADMIN_ROLE);
}

function inGroup(userCtx: UserContext, group: SecurityGroup): boolean {
  if (userCtx.name !== null && group.names.includes(userCtx.name)) return true;
  return userCtx.roles.some((role) => group.roles.includes(role));
}

/** A server admin, or named (by name or role) among the database's admins. */
export function isDbAdmin(userCtx: UserContext, security: SecurityObject): boolean {
  return isServerAdmin(userCtx) || inGroup(userCtx, security.admins);
}

/** Whether the database is open to everyone: its members name nobody (CouchDB's rule). */
export function isPublic(security: SecurityObject): boolean {
  return security.members.names.length === 0 && security.members.roles.length === 0;
}

/** May read and write the database's documents: a member, a database admin, or anyone if public. */
export function isMember(userCtx: UserContext, security: SecurityObject): boolean {
  return isPublic(security) || isDbAdmin(userCtx, security) || inGroup(userCtx, security.members);
}
