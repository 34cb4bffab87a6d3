import type { Attachment } from '../core/api.js';
import { encodeBase64 } from '../core/base64.js';
import type { AttachmentInput } from '../core/document.js';
import { badRequest, missingStub } from '../core/errors.js';
import { attachmentDigest } from '../core/md5.js';
import { ownValue } from '../core/own.js';
import type { AttachmentIdentity } from '../core/rev-hash.js';
import type { AttachmentBlob, AttachmentMeta, Storage } from '../storage/types.js';

/** The attachments of a revision being written, ready to store and to hash. */
export interface ResolvedAttachments {
  metas: Record<string, AttachmentMeta> | undefined;
  identities: AttachmentIdentity[];
  blobs: AttachmentBlob[];
}

/**
 * Turns a written `_attachments` into stored metadata. Inline data is digested and stored once
 * per digest; a stub takes the attachment of that name from `base`, the attachments of the
 * nearest ancestor revision this replica holds.
 *
 * @param revpos the generation new data gets; a replicated write keeps the sender's revpos
 */
export function resolveAttachments(
  docId: string,
  inputs: Map<string, AttachmentInput> | undefined,
  base: Record<string, AttachmentMeta> | undefined | null,
  revpos: number,
  keepRevpos: boolean,
): ResolvedAttachments {
  const resolved: ResolvedAttachments = { metas: undefined, identities: [], blobs: [] };
  if (!inputs || inputs.size === 0) return resolved;
  const metas: Record<string, AttachmentMeta> = {};
  for (const [name, input] of inputs) {
    let meta: AttachmentMeta;
    if (input.data) {
      const digest = attachmentDigest(input.data);
      meta = {
        content_type: input.contentType,
        digest,
        length: input.data.length,
        revpos: keepRevpos && input.revpos !== undefined ? input.revpos : revpos,
      };
      resolved.blobs.push({ digest, data: input.data });
    } else if (input.stub) {
      meta = resolveStub(docId, name, input, base);
    } else {
      throw badRequest(`Attachment ${name} of ${docId} says its data follows, but no data was sent`);
    }
    metas[name] = meta;
    resolved.identities.push({ name, contentType: meta.content_type, digest: meta.digest });
  }
  resolved.metas = metas;
  return resolved;
}

function resolveStub(
  docId: string,
  name: string,
  input: AttachmentInput,
  base: Record<string, AttachmentMeta> | undefined | null,
): AttachmentMeta {
  if (base === null) throw missingStub(`Previous revision missing for document ${docId}`);
  // Own entries only: a stub named `constructor` names no stored attachment.
  const stored = base ? ownValue(base, name) : undefined;
  if (!stored || (input.revpos !== undefined && input.revpos !== stored.revpos)) {
    throw missingStub(`Invalid attachment stub in ${docId} for ${name}`);
  }
  return stored;
}

/** Which attachments a read inlines: none (stubs), all, or those newer than a generation. */
export type AttachmentSelection = { kind: 'stubs' } | { kind: 'all' } | { kind: 'since'; gen: number };

/** A revision's attachments as a reader sees them: stubs, or inline base64 where selected. */
export async function formatAttachments(
  storage: Storage,
  metas: Record<string, AttachmentMeta>,
  selection: AttachmentSelection,
): Promise<Record<string, Attachment>> {
  const out = stubAttachments(metas);
  for (const [name, meta] of Object.entries(metas)) {
    const inline = selection.kind === 'all' || (selection.kind === 'since' && meta.revpos > selection.gen);
    if (!inline) continue;
    const data = await storage.getAttachment(meta.digest);
    if (!data) throw new Error(`attachment ${meta.digest} is referenced but not stored`);
    out[name] = {
      content_type: meta.content_type,
      revpos: meta.revpos,
      digest: meta.digest,
      data: encodeBase64(data),
    };
  }
  return out;
}

/** Attachments as stubs: metadata only, which the reader may fetch by name. */
export function stubAttachments(metas: Record<string, AttachmentMeta>): Record<string, Attachment> {
  const out: Record<string, Attachment> = {};
  for (const [name, meta] of Object.entries(metas)) {
    out[name] = {
      content_type: meta.content_type,
      revpos: meta.revpos,
      digest: meta.digest,
      length: meta.length,
      stub: true,
    };
  }
  return out;
}
