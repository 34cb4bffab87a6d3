// One document as it is stored: its JSON to edit and save, its revisions, its conflicts (with the
// way to resolve them) and its attachments; also the form for a new document, and deleting one.
import * as api from './api.js';
import { crumbs, h, plural, replaceChildren, route } from './dom.js';
import { parseJsonObject, saveErrorNote } from './editing.js';

/** The revisions listed; a long history is summed up after them. */
const REVISIONS_SHOWN = 10;
/** Fields the server adds when reading, or that the editor keeps for the person. */
const META = ['_id', '_rev', '_attachments', '_revs_info', '_conflicts', '_deleted_conflicts'];

const STALE = {
  text:
    'This document changed while you were looking at it, so nothing was saved. ' +
    'Reload to see its latest version; what you typed stays in the box until then, to copy.',
  reload: 'Reload the latest version',
};

export async function docEditorView(app, ticket, db, id) {
  let doc;
  try {
    doc = await api.openDoc(db, id);
  } catch (error) {
    if (error.status !== 404) throw error;
    const back = h('a', { class: 'button', href: route('db', db, 'docs') }, '← Back to the documents');
    return app.show(
      ticket,
      crumbs(db, id),
      h('h1', {}, id),
      h('p', { class: 'lead' }, 'This document does not exist, or it was deleted.'),
      back,
    );
  }
  const model = { doc, saving: false, error: null, confirmingDelete: false };
  const root = h('div', { class: 'doc-editor' });
  const draw = (focus) => {
    replaceChildren(root, ...page(app, ticket, db, model, draw));
    if (focus) root.querySelector(focus)?.focus();
  };
  draw();
  app.show(ticket, crumbs(db, id), root);
}

function page(app, ticket, db, model, draw) {
  const { doc } = model;
  const editor = jsonArea('doc-json', 'Document JSON', bodyOf(doc), model.keptText);
  return [
    h(
      'div',
      { class: 'view-head' },
      h('h1', {}, doc._id),
      h('span', { class: 'muted', id: 'doc-rev' }, `Revision ${doc._rev}`),
    ),
    conflictsNote(db, doc),
    h(
      'section',
      { class: 'card doc-section', 'aria-labelledby': 'doc-json-title' },
      h('h2', { id: 'doc-json-title' }, 'Contents'),
      h(
        'p',
        { class: 'hint' },
        'The document’s fields as JSON. Its id, revision and attached files are kept as they are when you save.',
      ),
      editor.node,
      model.error ? saveErrorNote(model.error, { ...STALE, onReload: () => app.reload() }) : null,
      editActions(app, ticket, db, model, editor, draw),
      model.confirmingDelete ? deletePanel(app, db, model, draw) : null,
    ),
    attachmentsSection(db, doc),
    revisionsSection(doc),
  ];
}

/** The document's own fields, without what the server adds or the editor keeps aside. */
function bodyOf(doc) {
  return Object.fromEntries(Object.entries(doc).filter(([key]) => !META.includes(key)));
}

/** A JSON text area with its label and the place its parse error shows. */
function jsonArea(id, label, value, text) {
  const textarea = h('textarea', { id, spellcheck: 'false', rows: '16', class: 'json-area' });
  textarea.value = text ?? JSON.stringify(value, null, 2);
  const error = h('p', { class: 'form-error', role: 'alert', hidden: true, id: `${id}-error` });
  const node = h('div', { class: 'field' }, h('label', { for: id }, label), textarea, error);
  /** The object typed, or undefined after saying what is wrong with it. */
  const read = (what) => {
    const value = parseJsonObject(textarea.value, what);
    error.hidden = typeof value !== 'string';
    if (typeof value !== 'string') return value;
    error.textContent = value;
    textarea.focus();
    return undefined;
  };
  return { node, textarea, read };
}

function editActions(app, ticket, db, model, editor, draw) {
  const stale = model.error?.status === 409;
  const save = async () => {
    const body = editor.read('The document');
    if (!body) return;
    const { _id, _rev, _attachments } = model.doc;
    model.keptText = editor.textarea.value;
    model.saving = true;
    model.error = null;
    app.clearNotice();
    draw();
    try {
      await api.saveDoc(db, { ...body, _id, _rev, ...(_attachments ? { _attachments } : {}) });
    } catch (error) {
      model.saving = false;
      if (error.status === 401) return app.fail(ticket, error);
      model.error = error;
      return draw(error.status === 409 ? '#reload-latest' : '#doc-json');
    }
    app.notify(`Saved “${_id}”.`, 'success', { keepAfterNavigation: true });
    app.reload();
  };
  // Ctrl+Enter (⌘+Enter) saves from the text, as in most editors.
  editor.textarea.addEventListener('keydown', (event) => {
    if (event.key === 'Enter' && (event.ctrlKey || event.metaKey) && !stale) {
      event.preventDefault();
      save();
    }
  });
  const openDelete = () => {
    model.confirmingDelete = true;
    draw('#cancel-delete-doc');
  };
  return h(
    'div',
    { class: 'form-buttons' },
    h(
      'button',
      {
        type: 'button',
        class: 'button button-danger',
        id: 'delete-doc',
        disabled: model.saving,
        on: { click: openDelete },
      },
      'Delete…',
    ),
    h(
      'button',
      {
        type: 'button',
        class: 'button button-primary',
        id: 'save-doc',
        disabled: model.saving || stale,
        on: { click: save },
      },
      model.saving ? 'Saving…' : 'Save',
    ),
  );
}

/** The delete's confirmation: Cancel comes first and has focus, so a stray Enter deletes nothing. */
function deletePanel(app, db, model, draw) {
  const { _id, _rev } = model.doc;
  const close = () => {
    model.confirmingDelete = false;
    draw('#delete-doc');
  };
  const remove = async () => {
    try {
      await api.deleteDoc(db, _id, _rev);
    } catch (error) {
      model.confirmingDelete = false;
      model.error = error;
      return draw(error.status === 409 ? '#reload-latest' : '#delete-doc');
    }
    app.notify(`Deleted “${_id}”.`, 'success', { keepAfterNavigation: true });
    app.go(route('db', db, 'docs'));
  };
  return h(
    'div',
    {
      class: 'panel panel-danger',
      role: 'group',
      'aria-label': `Delete ${_id}`,
      on: { keydown: (event) => event.key === 'Escape' && close() },
    },
    h('p', {}, `Delete “${_id}”? Replicas learn of the deletion as of any edit.`),
    h(
      'div',
      { class: 'form-buttons' },
      h(
        'button',
        { type: 'button', class: 'button', id: 'cancel-delete-doc', on: { click: close } },
        'Cancel',
      ),
      h(
        'button',
        {
          type: 'button',
          class: 'button button-danger-solid',
          id: 'confirm-delete-doc',
          on: { click: remove },
        },
        `Delete ${_id}`,
      ),
    ),
  );
}

/** Conflicting versions are settled on the conflict page, which compares them field by field. */
function conflictsNote(db, doc) {
  const others = doc._conflicts ?? [];
  if (others.length === 0) return null;
  return h(
    'div',
    { class: 'warning', id: 'doc-conflicts' },
    h('strong', {}, `${plural(others.length + 1, 'version')} of this document disagree.`),
    ' This page shows the one the server chose; the others are ',
    others.join(', '),
    '. ',
    h('a', { href: route('db', db, 'doc', doc._id) }, 'Compare and resolve them'),
  );
}

function attachmentsSection(db, doc) {
  const files = Object.entries(doc._attachments ?? {});
  return h(
    'section',
    { class: 'card doc-section', 'aria-labelledby': 'doc-files-title', id: 'doc-attachments' },
    h('h2', { id: 'doc-files-title' }, 'Attached files'),
    files.length === 0
      ? h('p', { class: 'muted' }, 'None.')
      : h(
          'ul',
          { class: 'entries' },
          files.map(([name, stub]) =>
            h(
              'li',
              { class: 'entry', 'data-attachment': name },
              h('a', { href: api.attachmentUrl(db, doc._id, name), class: 'entry-text' }, name),
              h(
                'span',
                { class: 'muted' },
                `${stub.content_type ?? 'unknown type'}, ${stub.length ?? '?'} bytes`,
              ),
            ),
          ),
        ),
  );
}

/** The revisions of the document's path, newest first, as `_revs_info` states them. */
function revisionsSection(doc) {
  const revisions = doc._revs_info ?? [];
  const shown = revisions.slice(0, REVISIONS_SHOWN);
  const more = revisions.length - shown.length;
  return h(
    'section',
    { class: 'card doc-section', 'aria-labelledby': 'doc-revs-title', id: 'doc-revisions' },
    h('h2', { id: 'doc-revs-title' }, 'Revisions'),
    h(
      'ol',
      { class: 'entries' },
      shown.map((info) =>
        h(
          'li',
          { class: 'entry', 'data-rev': info.rev },
          h('span', { class: 'entry-text rev' }, info.rev),
          h('span', { class: 'muted' }, info.status),
        ),
      ),
    ),
    more > 0 ? h('p', { class: 'muted' }, `and ${plural(more, 'older revision')}.`) : null,
  );
}

/** A new document: an id (or one the server makes up) and its fields as JSON. */
export function newDocView(app, ticket, db) {
  const id = h('input', { id: 'new-doc-id', autocomplete: 'off', spellcheck: 'false' });
  const editor = jsonArea('doc-json', 'Fields as JSON', {});
  const error = h('p', { class: 'form-error', role: 'alert', hidden: true, id: 'create-error' });
  const onSubmit = async (event) => {
    event.preventDefault();
    const body = editor.read('The document');
    if (!body) return;
    const wanted = id.value.trim();
    let answer;
    try {
      answer = await api.saveDoc(db, wanted ? { ...body, _id: wanted } : body);
    } catch (failure) {
      if (failure.status === 401) return app.fail(ticket, failure);
      error.textContent =
        failure.status === 409
          ? `A document with the id “${wanted}” already exists.`
          : api.describeError(failure);
      error.hidden = false;
      return;
    }
    app.notify(`Created “${answer.id}”.`, 'success', { keepAfterNavigation: true });
    app.go(route('db', db, 'docs', answer.id));
  };
  const form = h(
    'form',
    { class: 'card doc-section', id: 'new-doc', on: { submit: onSubmit } },
    h(
      'div',
      { class: 'field' },
      h('label', { for: id.id }, 'Document id'),
      id,
      h('p', { class: 'hint' }, 'Leave it empty for an id the server makes up.'),
    ),
    editor.node,
    error,
    h(
      'div',
      { class: 'form-buttons' },
      h('button', { type: 'submit', class: 'button button-primary' }, 'Create document'),
    ),
  );
  if (app.show(ticket, crumbs(db, 'New document'), h('h1', {}, 'New document'), form)) id.focus();
}
