/**
 * Conflict handling, in one home: `handling.ts` orchestrates (what `Database` delegates to),
 * over pure planning (`manual.ts`, `automatic.ts`, `chosen.ts` for a resolver a person picks),
 * reading leaves once and which of them contend (`leaves.ts`), the history of resolutions
 * (`history.ts`) and the conflicts index (`listing.ts`).
 */
export type { AutomaticResolution } from './automatic.js';
export type { ResolveWithOptions, ResolveWithResult } from './chosen.js';
export { ConflictHandling, type ConflictHost, type ResolutionBatch } from './handling.js';
export type { ResolutionResult, ResolutionsOptions } from './history.js';
export type { ConflictVersion, ConflictVersions, DeletedVersion, ReadLeaf } from './leaves.js';
export type { ConflictEvent, ConflictRow, ConflictsOptions, ConflictsResponse } from './listing.js';
export type { ResolveOptions, ResolveResult } from './manual.js';
