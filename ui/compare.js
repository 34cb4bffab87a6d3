// The side-by-side table of a conflicted document: one column per version (and the original,
// when the server still has it), one row per field, and the merged result being built.
import { labelOf, sourcesOf, valueAt } from './diff.js';
import { h } from './dom.js';
import { localTime, stampOf } from './stamps.js';

/**
 * `model`: `{ winner, leaves, deleted, ancestor, rows, attachments, merged, keepIndex, choice,
 * stamps }`; `actions`: `{ keepVersion(i), keepDeleted(i), useValue(path, value),
 * useAttachments(i), chooseMerged() }`. Deleted versions (`model.deleted`) follow the live ones,
 * labelled after them; they have no fields to compare, only the choice to keep the document
 * deleted.
 */
export function compareTable(model, actions) {
  return h(
    'table',
    // In "keep one version" mode the merge column steps back, so the choice reads at a glance.
    {
      class: `compare${model.choice && model.choice.kind !== 'merged' ? ' mode-version' : ''}`,
      id: 'compare',
    },
    h('thead', {}, headerRow(model, actions)),
    h(
      'tbody',
      {},
      model.rows.map((row) => fieldRow(model, row, actions)),
      hasAttachments(model) ? attachmentsRow(model, actions) : null,
    ),
  );
}

function headerRow(model, actions) {
  const { leaves, ancestor, choice } = model;
  return h(
    'tr',
    {},
    h('th', { class: 'col-field', scope: 'col' }, 'Field'),
    ancestor
      ? h(
          'th',
          { class: 'col-original', scope: 'col' },
          h('span', { class: 'col-title' }, 'Original'),
          h('span', { class: 'col-sub' }, 'before the versions split'),
        )
      : null,
    leaves.map((leaf, i) =>
      versionHeader(model, leaf, {
        label: labelOf(i),
        kind: 'col-version',
        sub: leaf.rev === model.winner ? 'shown to apps now' : 'not shown now',
        chosen: choice?.kind === 'version' && choice.index === i,
        choose: () => actions.keepVersion(i),
        words: ['Keeping this version', 'Keep this version'],
      }),
    ),
    model.deleted.map((leaf, i) => deletedHeader(model, leaf, i, actions)),
    mergedHeader(model, actions),
  );
}

/** A deleted version: when and where it was deleted, and the choice to keep it so. */
function deletedHeader(model, leaf, i, actions) {
  return versionHeader(model, leaf, {
    label: labelOf(model.leaves.length + i),
    kind: 'col-deleted',
    sub: 'deleted the document',
    chosen: model.choice?.kind === 'deleted' && model.choice.index === i,
    choose: () => actions.keepDeleted(i),
    words: ['Keeping it deleted', 'Keep deleted'],
  });
}

/** A version's column head: its name, what it is, its stamp and revision, and its choice button. */
function versionHeader(model, leaf, { label, kind, sub, chosen, choose, words }) {
  return h(
    'th',
    { class: `${kind}${chosen ? ' chosen' : ''}`, scope: 'col', 'data-version': label },
    h('span', { class: 'col-title' }, `Version ${label}`),
    h('span', { class: 'col-sub' }, sub),
    stampLine(leaf.doc, model.stamps),
    h('span', { class: 'rev', title: 'revision' }, shortRev(leaf.rev)),
    h(
      'button',
      {
        type: 'button',
        class: `button button-small${chosen ? ' button-primary' : ''}`,
        'aria-pressed': String(chosen),
        on: { click: choose },
      },
      chosen ? words[0] : words[1],
    ),
  );
}

/** When and on which node a version was written, from its clock stamp. */
function stampLine(doc, stampFields) {
  const stamp = stampOf(doc, stampFields);
  if (stamp === null) return h('span', { class: 'stamp stamp-none' }, 'unstamped');
  return h(
    'span',
    { class: 'stamp' },
    h('time', { datetime: new Date(stamp.wall).toISOString() }, localTime(stamp.wall)),
    h('span', { class: 'origin' }, `from ${stamp.node}`),
  );
}

/** The cells of the deleted versions in a field row: they have no fields. */
function deletedCells(model) {
  return model.deleted.map((_, i) =>
    h(
      'td',
      { class: 'col-deleted', 'data-version': labelOf(model.leaves.length + i) },
      h('span', { class: 'empty' }, '(deleted)'),
    ),
  );
}

function mergedHeader(model, actions) {
  const chosen = model.choice?.kind === 'merged';
  return h(
    'th',
    { class: `col-merged${chosen ? ' chosen' : ''}`, scope: 'col' },
    h('span', { class: 'col-title' }, 'Merged result'),
    h('span', { class: 'col-sub' }, 'built from the values you pick'),
    h(
      'button',
      {
        type: 'button',
        class: `button button-small${chosen ? ' button-primary' : ''}`,
        'aria-pressed': String(chosen),
        on: { click: actions.chooseMerged },
      },
      chosen ? 'Using the merged result' : 'Use the merged result',
    ),
  );
}

function fieldRow(model, row, actions) {
  const sources = sourcesOf(row, model.merged);
  const classes = ['field-row', row.differs ? 'differs' : 'same', row.contested ? 'contested' : ''];
  return h(
    'tr',
    { class: classes.join(' ').trim(), 'data-field': row.field },
    h('th', { scope: 'row', class: 'col-field' }, fieldName(row.path)),
    model.ancestor ? h('td', { class: 'col-original' }, valueNode(row.base)) : null,
    row.values.map((value, i) => {
      const inMerge = sources.includes(i);
      return h(
        'td',
        { class: versionCellClass(model, i, inMerge && row.differs), 'data-version': labelOf(i) },
        valueNode(value),
        row.changed[i] ? h('span', { class: 'tag tag-changed' }, 'changed') : null,
        row.differs && !inMerge
          ? h(
              'button',
              {
                type: 'button',
                class: 'button button-small button-use',
                on: { click: () => actions.useValue(row.path, value) },
              },
              'Use this value',
            )
          : null,
        row.differs && inMerge ? h('span', { class: 'tag tag-picked' }, '✓ in the merge') : null,
      );
    }),
    deletedCells(model),
    h(
      'td',
      { class: 'col-merged' },
      valueNode(valueAt(model.merged, row.path)),
      h('span', { class: 'source' }, sourceText(row, sources)),
    ),
  );
}

/** `address.zip`, the enclosing object's part quieter so the field itself stands out. */
function fieldName(path) {
  const parents = path.slice(0, -1).map((key) => `${key}.`);
  return [parents.length > 0 ? h('span', { class: 'path-parent' }, parents.join('')) : null, path.at(-1)];
}

function versionCellClass(model, index, picked) {
  const chosen = model.choice?.kind === 'version' && model.choice.index === index;
  return ['col-version', picked ? 'picked' : '', chosen ? 'chosen' : ''].filter(Boolean).join(' ');
}

/** Where the merged value comes from, in words. */
function sourceText(row, sources) {
  if (!row.differs && sources.length > 0) return '';
  if (sources.length === 0) return 'typed by you';
  const names = sources.map(labelOf);
  const from = names.length === 1 ? `from version ${names[0]}` : `as in versions ${names.join(' and ')}`;
  return row.contested ? `${from} — the versions disagree here, check it` : from;
}

function hasAttachments(model) {
  return model.attachments.stubs.some((stubs) => stubs && Object.keys(stubs).length > 0);
}

/** Attachments are not merged one by one: the merge keeps those of one version. */
function attachmentsRow(model, actions) {
  const { stubs, differs } = model.attachments;
  return h(
    'tr',
    { class: `field-row attachments-row ${differs ? 'differs' : 'same'}`, 'data-field': '_attachments' },
    h('th', { scope: 'row', class: 'col-field' }, 'Attachments'),
    model.ancestor
      ? h('td', { class: 'col-original' }, attachmentList(model.ancestor.doc._attachments))
      : null,
    stubs.map((byName, i) => {
      const kept = model.keepIndex === i;
      return h(
        'td',
        { class: versionCellClass(model, i, kept && differs), 'data-version': labelOf(i) },
        attachmentList(byName),
        model.attachments.changed[i] ? h('span', { class: 'tag tag-changed' }, 'changed') : null,
        differs && !kept
          ? h(
              'button',
              {
                type: 'button',
                class: 'button button-small button-use',
                on: { click: () => actions.useAttachments(i) },
              },
              'Use these files',
            )
          : null,
        differs && kept ? h('span', { class: 'tag tag-picked' }, '✓ in the merge') : null,
      );
    }),
    deletedCells(model),
    h('td', { class: 'col-merged' }, attachmentList(stubs[model.keepIndex])),
  );
}

function attachmentList(byName) {
  const entries = Object.entries(byName ?? {});
  if (entries.length === 0) return h('span', { class: 'empty' }, '(no files)');
  return h(
    'ul',
    { class: 'files' },
    entries.map(([name, stub]) =>
      h('li', {}, name, h('span', { class: 'muted' }, ` ${sizeOf(stub.length)}`)),
    ),
  );
}

function sizeOf(bytes) {
  if (typeof bytes !== 'number') return '';
  if (bytes < 1024) return `${bytes} bytes`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

/** A value as text: plain for text and numbers, laid out for lists and objects. */
export function valueNode(value) {
  if (value === undefined) return h('span', { class: 'empty' }, '(not set)');
  if (value === null) return h('span', { class: 'empty' }, '(none)');
  if (value === '') return h('span', { class: 'empty' }, '(empty text)');
  if (Array.isArray(value) && value.length === 0) return h('span', { class: 'empty' }, '(empty list)');
  if (Array.isArray(value) && value.every(isScalar)) {
    return h(
      'ul',
      { class: 'value value-list' },
      value.map((item) => h('li', {}, valueNode(item))),
    );
  }
  if (typeof value === 'object')
    return h('pre', { class: 'value value-json' }, JSON.stringify(value, null, 2));
  return h('span', { class: `value value-${typeof value}` }, String(value));
}

function isScalar(value) {
  return value === null || typeof value !== 'object';
}

/** `3-1a2b3c4d…`: enough of a revision to tell versions apart. */
function shortRev(rev) {
  const [gen, hash = ''] = rev.split('-');
  return `${gen}-${hash.slice(0, 8)}…`;
}
