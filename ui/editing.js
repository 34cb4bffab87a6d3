// What every view that saves a document shares: reading JSON typed by a person, and saying why a
// save failed — a 409 above all, which means the document changed meanwhile and nothing was saved.
import * as api from './api.js';
import { h } from './dom.js';

/**
 * The note under a failed save. A 409 says the view is stale and offers the one way on, a reload
 * (`stale.text`, `stale.reload` word it for the view); anything else says what went wrong.
 */
export function saveErrorNote(error, stale) {
  if (error.status === 409) {
    return h(
      'div',
      { class: 'bar-error', role: 'alert', id: 'save-error' },
      h('p', {}, stale.text),
      h(
        'button',
        { type: 'button', class: 'button', id: 'reload-latest', on: { click: stale.onReload } },
        stale.reload,
      ),
    );
  }
  return h('p', { class: 'bar-error', role: 'alert', id: 'save-error' }, api.describeError(error));
}

/** The JSON object typed, or a sentence saying what is wrong with it; `what` names it ("The document"). */
export function parseJsonObject(text, what) {
  let value;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return `This is not valid JSON: ${error.message}`;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return `${what} must be a JSON object, written between { and }.`;
  }
  return value;
}
