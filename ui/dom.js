// Building elements without innerHTML: document bodies are untrusted, so every piece of data
// reaches the page as a text node and can never become markup.

/**
 * An element with properties and children.
 *
 * `props`: `class`, `text` (textContent), `on` (`{ click: fn }`), `hidden`, `disabled`, and any
 * other key as an attribute. Children are nodes or strings (text); null/false are skipped.
 *
 * @example h('button', { class: 'button', on: { click: save } }, 'Save')
 */
export function h(tag, props = {}, ...children) {
  const element = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) setProp(element, key, value);
  append(element, children);
  return element;
}

function setProp(element, key, value) {
  if (value === undefined || value === null || value === false) return;
  if (key === 'class') element.className = value;
  else if (key === 'text') element.textContent = value;
  else if (key === 'on') for (const [name, fn] of Object.entries(value)) element.addEventListener(name, fn);
  else if (key === 'hidden' || key === 'disabled' || key === 'checked') element[key] = true;
  else element.setAttribute(key, value === true ? '' : String(value));
}

/** Appends nodes and strings (as text), flattening arrays and skipping null/false. */
export function append(parent, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    parent.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return parent;
}

/** Replaces everything inside `parent`. */
export function replaceChildren(parent, ...children) {
  parent.replaceChildren();
  return append(parent, children);
}

/** "1 version" / "3 versions". */
export function plural(count, one, many = `${one}s`) {
  return `${count} ${count === 1 ? one : many}`;
}

/**
 * The trail above a view: Databases › the database › `last` (a database's own view passes no
 * `last`, and its name is then the end of the trail).
 */
export function crumbs(db, last) {
  const trail = [h('a', { href: '#/' }, 'Databases'), ' › '];
  if (last === undefined) trail.push(h('span', {}, db));
  else trail.push(h('a', { href: route('db', db) }, db), ' › ', h('span', {}, last));
  return h('nav', { class: 'crumbs' }, ...trail);
}

/** A hash link inside the page: `#/db/<name>` and so on, each part encoded. */
export function route(...parts) {
  return `#/${parts.map(encodeURIComponent).join('/')}`;
}

/** The tabs of a database's views: its documents, queries, conflicts and history of resolutions. */
export function dbTabs(db, current) {
  const tab = (name, href, text) =>
    h('a', { href, class: 'tab', 'data-tab': name, 'aria-current': current === name ? 'page' : null }, text);
  return h(
    'nav',
    { class: 'tabs', 'aria-label': 'Database views' },
    tab('documents', route('db', db, 'docs'), 'Documents'),
    tab('find', route('db', db, 'find'), 'Find'),
    tab('conflicts', route('db', db), 'Conflicts'),
    tab('history', route('db', db, 'history'), 'History'),
  );
}

/**
 * The form that finds entries by the start of their id: `search(prefix)` on Find, and "Show all"
 * once a prefix is applied.
 */
export function prefixSearch(prefix, search, placeholder = 'Start of a document id') {
  const input = h('input', {
    id: 'search',
    type: 'search',
    value: prefix,
    placeholder,
    'aria-label': 'Find documents whose id starts with',
  });
  const submit = (event) => {
    event.preventDefault();
    search(input.value);
  };
  return h(
    'form',
    { class: 'search', role: 'search', on: { submit } },
    input,
    h('button', { type: 'submit', class: 'button' }, 'Find'),
    prefix
      ? h(
          'button',
          { type: 'button', class: 'button button-quiet', on: { click: () => search('') } },
          'Show all',
        )
      : null,
  );
}

/**
 * Replaces what is inside `parent` and gives focus back to the element that had it, found again
 * by its `data-focus-key`: a list redrawn while someone tabs through it keeps their place.
 */
export function replaceKeepingFocus(parent, ...children) {
  const active = document.activeElement;
  const key = parent.contains(active) ? active?.dataset?.focusKey : undefined;
  replaceChildren(parent, ...children);
  if (key !== undefined) parent.querySelector(`[data-focus-key="${CSS.escape(key)}"]`)?.focus();
  return parent;
}

/** "12 B", "3.4 KB", "1.2 GB": a size in bytes for a person. */
export function formatBytes(bytes) {
  if (typeof bytes !== 'number' || !Number.isFinite(bytes)) return '—';
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}

/**
 * Previous/next buttons and "Showing 1–50 of 55" for a paged list, or null when it fits one
 * page. `labels`: the two buttons' words, e.g. `['← Newer', 'Older →']`; `total` may be unknown.
 */
export function pager({
  index,
  pageSize,
  shown,
  total,
  hasNext,
  showPage,
  labels = ['← Previous', 'Next →'],
}) {
  if (index === 0 && !hasNext) return null;
  const first = index * pageSize + 1;
  const button = (text, disabled, target) =>
    h('button', { type: 'button', class: 'button', disabled, on: { click: () => showPage(target) } }, text);
  // A keyset-paged list may not know its total (a prefix search, a query): then none is shown.
  const of = total === undefined ? '' : ` of ${total}`;
  const range = h('span', { class: 'muted' }, `Showing ${first}–${first + shown - 1}${of}`);
  return h(
    'div',
    { class: 'pager' },
    button(labels[0], index === 0, index - 1),
    range,
    button(labels[1], !hasNext, index + 1),
  );
}
