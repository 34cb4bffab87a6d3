// Small live charts: a figure with a title, each line's current value as text (what a screen
// reader reads), and an inline SVG sparkline of the recent values, hidden from assistive
// technology since the text says the same. No chart library: a few paths are all it takes.
import { h, replaceChildren } from './dom.js';

const SVG = 'http://www.w3.org/2000/svg';
/** The drawing's own units; the SVG stretches to its box, its strokes staying thin. */
const WIDTH = 300;
const HEIGHT = 60;

/**
 * A chart of `lines` (`{ key, label }`, drawn in that order). `update(points)` redraws it from
 * `{ at, values: { [key]: number | null } }` points, oldest first, spread over the width by their
 * time (a fresh chart is as wide as a full one); a null value leaves a gap.
 *
 * @example
 * const chart = liveChart({ id: 'memory', title: 'Memory', format: formatBytes, lines: [{ key: 'rss', label: 'resident' }] });
 * chart.update([{ at: Date.now(), values: { rss: 52_000_000 } }]);
 */
export function liveChart({ id, title, format, lines }) {
  const values = new Map(lines.map((line) => [line.key, h('dd', { 'data-line': line.key }, '—')]));
  const svg = svgElement('svg', {
    viewBox: `0 0 ${WIDTH} ${HEIGHT}`,
    preserveAspectRatio: 'none',
    'aria-hidden': 'true',
    focusable: 'false',
    class: 'sparkline',
  });
  const element = h(
    'figure',
    { class: 'chart', id: `chart-${id}` },
    h('figcaption', {}, title),
    h(
      'dl',
      { class: 'chart-values' },
      lines.map((line, i) =>
        h(
          'div',
          {},
          h('dt', {}, h('span', { class: `swatch series-${i}` }), line.label),
          values.get(line.key),
        ),
      ),
    ),
    svg,
  );
  const update = (points) => {
    const newest = points.at(-1)?.values ?? {};
    for (const [key, dd] of values)
      dd.textContent = typeof newest[key] === 'number' ? format(newest[key]) : '—';
    const top = Math.max(0, ...points.flatMap((point) => Object.values(point.values).filter(isNumber)));
    const first = points[0]?.at ?? 0;
    const span = (points.at(-1)?.at ?? 0) - first;
    const x = (at) => (span > 0 ? ((at - first) / span) * WIDTH : WIDTH);
    const y = (value) => HEIGHT - 2 - (top === 0 ? 0 : (value / top) * (HEIGHT - 4));
    replaceChildren(
      svg,
      lines.map((line, i) => svgElement('path', { class: `series-${i}`, d: pathOf(points, line.key, x, y) })),
    );
  };
  return { element, update };
}

/** An SVG path through the points' values of `key`, broken where a value is missing. */
function pathOf(points, key, x, y) {
  let path = '';
  let drawing = false;
  for (const { at, values } of points) {
    const value = values[key];
    if (!isNumber(value)) {
      drawing = false;
      continue;
    }
    path += `${drawing ? 'L' : 'M'}${x(at).toFixed(1)},${y(value).toFixed(1)}`;
    drawing = true;
  }
  return path;
}

function isNumber(value) {
  return typeof value === 'number' && Number.isFinite(value);
}

function svgElement(tag, attributes) {
  const element = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, value);
  return element;
}
