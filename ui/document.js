// One conflicted document: its versions side by side, a choice (one version, or a merge built
// field by field or typed as JSON), and Save, which resolves the conflict in one request.
import * as api from './api.js';
import { compareTable } from './compare.js';
import {
  bodyOf,
  stampsOf,
  compareAttachments,
  compareVersions,
  labelOf,
  suggestMerge,
  withMergedFields,
  withValue,
} from './diff.js';
import { crumbs, h, plural, replaceChildren, route } from './dom.js';
import { parseJsonObject, saveErrorNote } from './editing.js';

export async function documentView(app, ticket, db, id) {
  const trail = crumbs(db, id);
  let data;
  try {
    data = await api.versions(db, id);
  } catch (error) {
    if (error.status !== 404) throw error;
    return app.show(ticket, trail, h('h1', {}, id), gone(db, 'This document no longer exists.'));
  }
  if (data.leaves.length < 2) {
    const text = 'This document has a single version now: someone has already settled it.';
    return app.show(ticket, trail, h('h1', {}, id), gone(db, text));
  }
  const page = documentPage(app, ticket, db, data);
  app.show(ticket, trail, ...page);
}

function gone(db, text) {
  return [
    h('p', { class: 'lead' }, text),
    h('a', { class: 'button', href: route('db', db) }, '← Back to the list'),
  ];
}

function newModel(data) {
  const stamps = new Set(data.stamp_fields ?? []);
  const baseRows = compareVersions(data.leaves, data.ancestor, stamps);
  return {
    stamps,
    id: data.id,
    winner: data.winner,
    leaves: data.leaves,
    // Versions that deleted the document while the others were edited: keeping one keeps it
    // deleted. Not the tombstones an earlier resolution left on its losers (`retired`): nobody
    // deleted the document then.
    deleted: (data.deleted_leaves ?? []).filter((leaf) => !leaf.retired),
    ancestor: data.ancestor,
    baseRows,
    rows: baseRows,
    attachments: compareAttachments(data.leaves, data.ancestor),
    merged: suggestMerge(baseRows),
    // The version the merge continues: its attachments are the merge's.
    keepIndex: 0,
    choice: null,
    saving: false,
    error: null,
  };
}

/** The view's parts; the table and the action bar are redrawn whenever the choice changes. */
function documentPage(app, ticket, db, data) {
  const model = newModel(data);
  const tableArea = h('div', { class: 'table-wrap' });
  const bar = h('div', { class: 'action-bar', id: 'action-bar' });
  const setMerged = (merged) => {
    model.merged = merged;
    model.rows = withMergedFields(model.baseRows, merged, model.leaves.length);
    model.choice = { kind: 'merged' };
    if (model.error?.status !== 409) model.error = null; // a stale view stays stale until reloaded
  };
  const actions = {
    keepVersion: (i) => update(() => (model.choice = { kind: 'version', index: i })),
    keepDeleted: (i) => update(() => (model.choice = { kind: 'deleted', index: i })),
    chooseMerged: () => update(() => (model.choice = { kind: 'merged' })),
    useValue: (path, value) => update(() => setMerged(withValue(model.merged, path, value))),
    useAttachments: (i) => update(() => ((model.keepIndex = i), (model.choice = { kind: 'merged' }))),
    applyJson: (body) => update(() => setMerged(body)),
    startOver: () => update(() => Object.assign(model, newModel(data))),
    reload: () => app.reload(),
    save: () => save(app, ticket, db, model, update),
  };
  const editor = jsonEditor(model, actions);
  function update(change = () => {}) {
    change();
    replaceChildren(tableArea, compareTable(model, actions));
    replaceChildren(bar, ...actionBar(model, actions));
    editor.refresh();
  }
  update();
  return [
    h(
      'div',
      { class: 'view-head' },
      h('h1', {}, data.id),
      h(
        'a',
        { class: 'button button-small', id: 'doc-history-link', href: route('db', db, 'history', data.id) },
        'History of this document',
      ),
    ),
    h('p', { class: 'lead', id: 'summary' }, summary(model)),
    h('p', { class: 'explain' }, explanation(model)),
    tableArea,
    editor.node,
    bar,
  ];
}

function summary(model) {
  const differing = model.baseRows.filter((row) => row.differs).map((row) => row.field);
  const deletions = model.deleted.length;
  const deleted =
    deletions === 0 ? '' : ` ${deletions === 1 ? 'One version' : `${deletions} versions`} deleted it.`;
  const first = `${plural(model.leaves.length, 'version')} of this document disagree.${deleted}`;
  if (differing.length > 0) {
    const shown = differing.slice(0, 6).join(', ');
    const more = differing.length > 6 ? ` and ${differing.length - 6} more` : '';
    const files = model.attachments.differs ? ', and in their attached files' : '';
    return `${first} They differ in ${plural(differing.length, 'field')}: ${shown}${more}${files}.`;
  }
  if (model.attachments.differs) return `${first} They differ only in their attached files.`;
  return `${first} Their contents are the same, so keeping any of them is safe.`;
}

function explanation(model) {
  const how =
    'Highlighted rows differ between the versions. Keep one version as it is, ' +
    'or press “Use this value” to build a merged result field by field, then save.';
  const original = model.ancestor
    ? ' “Original” is the last version they had in common; “changed” marks what each version changed since.'
    : ' The original they started from is no longer stored, so only the versions themselves can be compared.';
  return how + original;
}

function actionBar(model, actions) {
  const save = h(
    'button',
    {
      type: 'button',
      id: 'save',
      class: 'button button-primary',
      // After a 409 the versions on screen are stale: only a reload can lead to a save.
      disabled: model.choice === null || model.saving || model.error?.status === 409,
      on: { click: actions.save },
    },
    model.saving ? 'Saving…' : 'Save',
  );
  const reset = h(
    'button',
    {
      type: 'button',
      class: 'button button-quiet',
      disabled: model.saving,
      on: { click: actions.startOver },
    },
    'Start over',
  );
  return [
    h('p', { class: 'choice', id: 'choice' }, describeChoice(model)),
    model.error ? saveErrorNote(model.error, { ...STALE, onReload: actions.reload }) : null,
    h('div', { class: 'bar-buttons' }, reset, save),
  ];
}

function describeChoice(model) {
  const { choice, leaves } = model;
  if (choice === null) {
    return 'Nothing chosen yet. Keep one version, or use values from several to build a merged result.';
  }
  if (choice.kind === 'deleted') {
    const names = capitalise(listOf(leaves.map((_, i) => `version ${labelOf(i)}`)));
    const label = labelOf(leaves.length + choice.index);
    return `You are keeping the document deleted, as version ${label} left it. ${names} will be removed (the server keeps them in its history).`;
  }
  const kept = choice.kind === 'version' ? choice.index : model.keepIndex;
  if (choice.kind === 'version') {
    const others = leaves.map((_, i) => i).filter((i) => i !== kept);
    const names = capitalise(listOf(others.map((i) => `version ${labelOf(i)}`)));
    const it = others.length === 1 ? 'it' : 'them';
    return `You are keeping version ${labelOf(kept)} as it is. ${names} will be removed (the server keeps ${it} in its history).`;
  }
  const all = listOf(leaves.map((_, i) => `version ${labelOf(i)}`));
  return `You are saving the merged result. It replaces ${all} (the server keeps the old versions in its history).`;
}

const STALE = {
  text:
    'This document changed while you were looking at it, so nothing was saved. ' +
    'Reload to see its latest versions and choose again.',
  reload: 'Reload the latest versions',
};

/** The resolution request: one version as it is, or the merge as a child of the kept version. */
function resolution(model) {
  const revs = model.leaves.map((leaf) => leaf.rev);
  // Keeping a deletion: the winner is continued by a tombstone, the others get theirs.
  if (model.choice.kind === 'deleted')
    return { merged: { _deleted: true }, keep: revs[0], losers: revs.slice(1) };
  const keepIndex = model.choice.kind === 'version' ? model.choice.index : model.keepIndex;
  const keep = revs[keepIndex];
  const losers = revs.filter((rev) => rev !== keep);
  if (model.choice.kind === 'version') return { keep, losers };
  const stubs = model.attachments.stubs[keepIndex];
  const carried = stampsOf(model.leaves[keepIndex].doc, model.stamps);
  const merged = { _id: model.id, ...carried, ...model.merged, ...(stubs ? { _attachments: stubs } : {}) };
  return { merged, keep, losers };
}

async function save(app, ticket, db, model, update) {
  update(() => ((model.saving = true), (model.error = null)));
  try {
    await api.resolve(db, model.id, resolution(model));
  } catch (error) {
    if (error.status === 401) return app.fail(ticket, error);
    return update(() => ((model.saving = false), (model.error = error)));
  }
  const outcome = model.choice.kind === 'deleted' ? 'is deleted now' : 'has a single version again';
  app.notify(`Saved. “${model.id}” ${outcome}.`, 'success', { keepAfterNavigation: true });
  app.go(route('db', db));
}

/** The advanced editor: the merged result as JSON text, applied back to the table. */
function jsonEditor(model, actions) {
  const textarea = h('textarea', {
    id: 'json-editor',
    spellcheck: 'false',
    rows: '14',
    'aria-label': 'Merged result as JSON',
  });
  const error = h('p', { class: 'form-error', role: 'alert', hidden: true });
  // Refilled as the table changes, unless the person has typed something not applied yet.
  let filled = '';
  const fill = () => {
    filled = JSON.stringify(model.merged, null, 2);
    textarea.value = filled;
    error.hidden = true;
  };
  const apply = () => {
    const body = parseJsonObject(textarea.value, 'The merged result');
    if (typeof body === 'string') {
      error.textContent = body;
      error.hidden = false;
      return;
    }
    actions.applyJson(bodyOf(body, model.stamps));
    fill();
  };
  const node = h(
    'details',
    { class: 'advanced', on: { toggle: () => node.open && fill() } },
    h('summary', {}, 'Advanced: edit the merged result as JSON'),
    h(
      'p',
      { class: 'muted' },
      'Starts from the merged result above. Attached files are not part of the text: ' +
        'the merge keeps those of the version marked in the table.',
    ),
    textarea,
    error,
    h(
      'div',
      { class: 'editor-buttons' },
      h('button', { type: 'button', class: 'button', on: { click: fill } }, 'Undo my typing'),
      h(
        'button',
        { type: 'button', class: 'button button-primary', id: 'apply-json', on: { click: apply } },
        'Apply to the merged result',
      ),
    ),
  );
  const refresh = () => {
    if (node.open && textarea.value === filled) fill();
  };
  return { node, refresh };
}

function listOf(items) {
  if (items.length <= 1) return items.join('');
  return `${items.slice(0, -1).join(', ')} and ${items[items.length - 1]}`;
}

function capitalise(text) {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
