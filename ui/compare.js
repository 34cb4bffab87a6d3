// The side-by-side table of a conflicted document: one column per version (and the original,
// when the server still has it), one row per field, and the merged result being built.
import { labelOf, sourcesOf } from './diff.js';
import { h } from './dom.js';

/**
 * `model`: `{ winner, leaves, ancestor, rows, attachments, merged, keepIndex, choice }`;
 * `actions`: `{ keepVersion(i), useValue(field, value), useAttachments(i), chooseMerged() }`.
 */
export function compareTable(model, actions) {
  return h(
    'table',
    // In "keep one version" mode the merge column steps back, so the choice reads at a glance.
    { class: `compare${model.choice?.kind === 'version' ? ' mode-version' : ''}`, id: 'compare' },
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
    leaves.map((leaf, i) => {
      const chosen = choice?.kind === 'version' && choice.index === i;
      return h(
        'th',
        { class: `col-version${chosen ? ' chosen' : ''}`, scope: 'col', 'data-version': labelOf(i) },
        h('span', { class: 'col-title' }, `Version ${labelOf(i)}`),
        h('span', { class: 'col-sub' }, leaf.rev === model.winner ? 'shown to apps now' : 'not shown now'),
        h('span', { class: 'rev', title: 'revision' }, shortRev(leaf.rev)),
        h(
          'button',
          {
            type: 'button',
            class: `button button-small${chosen ? ' button-primary' : ''}`,
            'aria-pressed': String(chosen),
            on: { click: () => actions.keepVersion(i) },
          },
          chosen ? 'Keeping this version' : 'Keep this version',
        ),
      );
    }),
    mergedHeader(model, actions),
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
    h('th', { scope: 'row', class: 'col-field' }, row.field),
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
                on: { click: () => actions.useValue(row.field, value) },
              },
              'Use this value',
            )
          : null,
        row.differs && inMerge ? h('span', { class: 'tag tag-picked' }, '✓ in the merge') : null,
      );
    }),
    h(
      'td',
      { class: 'col-merged' },
      valueNode(model.merged[row.field]),
      h('span', { class: 'source' }, sourceText(row, sources)),
    ),
  );
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
