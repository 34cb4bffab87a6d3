import { canonicalJson } from './canonical-json.js';
import { md5Hex } from './md5.js';
import { childGeneration, formatRev } from './revision.js';

/** What identifies an attachment in a revision's hash. */
export interface AttachmentIdentity {
  name: string;
  contentType: string;
  digest: string;
}

/** Everything a new revision's id depends on. */
export interface RevisionContent {
  deleted: boolean;
  /** The revision being edited, or null for a document's first revision. */
  parentRev: string | null;
  /** The document body without `_`-prefixed reserved fields. */
  body: Record<string, unknown>;
  attachments: readonly AttachmentIdentity[];
}

/**
 * The deterministic id of a new revision (protocol.md §1.8): the parent's generation plus one, and
 * the md5 of the canonical JSON of `[deleted, parentRev, body, sorted attachments]`. Two replicas
 * making the same edit from the same parent produce the same id, so replication sees one
 * revision instead of a conflict; any change of content, attachment name or type changes it.
 */
export function newRevisionId(content: RevisionContent): string {
  const attachments = content.attachments
    .map((att) => [att.name, att.contentType, att.digest])
    .sort((a, b) => (a[0]! < b[0]! ? -1 : a[0]! > b[0]! ? 1 : 0));
  const hash = md5Hex(canonicalJson([content.deleted, content.parentRev, content.body, attachments]));
  return formatRev(childGeneration(content.parentRev), hash);
}
