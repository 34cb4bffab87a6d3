/**
 * The fenced code blocks of a Markdown guide, with the directive (an HTML comment on the line
 * before the fence) that says how the docs test treats each. See docs/writing-docs.md for the
 * convention.
 */

/** How a block is run, from its fence language and the directive before it. */
export type BlockMode =
  /** ts/js: an ES module of its own, run with tsx. */
  | { kind: 'module' }
  /** ts/js after `<!-- continues -->`: appended to the module of the block before it. */
  | { kind: 'continues' }
  /** ts/js after `<!-- file: NAME -->`: saved as NAME in the working folder, then imported. */
  | { kind: 'file'; name: string }
  /** sh/bash: run by bash; bounded, must exit 0. */
  | { kind: 'shell' }
  /** sh/bash after `<!-- runs-until: TEXT -->`: runs until it prints TEXT, then is stopped. */
  | { kind: 'shell-until'; text: string }
  /** After `<!-- not-run: REASON -->`: shown, never run. */
  | { kind: 'not-run'; reason: string }
  /** text, json, ini, nginx, http: output, listings and configuration, never run. */
  | { kind: 'output' };

export interface CodeBlock {
  /** 1-based line of the opening fence, for messages. */
  line: number;
  lang: string;
  code: string;
  mode: BlockMode;
}

const MODULE_LANGS = new Set(['ts', 'typescript', 'js', 'javascript']);
const SHELL_LANGS = new Set(['sh', 'bash']);
const OUTPUT_LANGS = new Set(['text', 'json', 'ini', 'nginx', 'http']);

const FENCE = /^(`{3,})\s*([\w-]*)\s*$/;
const DIRECTIVE = /^<!--\s*(not-run|continues|file|runs-until)\s*(?::\s*(.*?))?\s*-->$/;

/** The fenced blocks of `markdown`, in order; a malformed block or directive throws. */
export function codeBlocks(markdown: string): CodeBlock[] {
  const lines = markdown.split('\n');
  const blocks: CodeBlock[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = FENCE.exec(lines[i]!);
    if (!open) continue;
    const close = lines.findIndex((text, j) => j > i && text.trim() === open[1]);
    if (close < 0) throw new Error(`line ${i + 1}: the code block is never closed`);
    const lang = open[2]!;
    const code = lines.slice(i + 1, close).join('\n') + '\n';
    blocks.push({ line: i + 1, lang, code, mode: modeOf(lang, directiveBefore(lines, i), i + 1) });
    i = close;
  }
  return blocks;
}

/** The directive comment right above line `index` (blank lines between are allowed). */
function directiveBefore(lines: string[], index: number): { name: string; value: string } | undefined {
  let j = index - 1;
  while (j >= 0 && lines[j]!.trim() === '') j--;
  const match = j >= 0 ? DIRECTIVE.exec(lines[j]!.trim()) : null;
  return match ? { name: match[1]!, value: match[2] ?? '' } : undefined;
}

function modeOf(
  lang: string,
  directive: { name: string; value: string } | undefined,
  line: number,
): BlockMode {
  const fail = (why: string) => new Error(`line ${line}: ${why}`);
  if (directive?.name === 'not-run') {
    if (directive.value === '') throw fail('<!-- not-run: … --> needs a reason');
    return { kind: 'not-run', reason: directive.value };
  }
  if (OUTPUT_LANGS.has(lang)) {
    if (directive) throw fail(`a ${lang} block is never run: <!-- ${directive.name} --> has no effect`);
    return { kind: 'output' };
  }
  if (MODULE_LANGS.has(lang)) {
    if (directive?.name === 'continues') return { kind: 'continues' };
    if (directive?.name === 'file' && directive.value !== '') return { kind: 'file', name: directive.value };
    if (directive) throw fail(`<!-- ${directive.name} --> does not apply to a ${lang} block`);
    return { kind: 'module' };
  }
  if (SHELL_LANGS.has(lang)) {
    if (directive?.name === 'runs-until' && directive.value !== '') {
      return { kind: 'shell-until', text: directive.value };
    }
    if (directive) throw fail(`<!-- ${directive.name} --> does not apply to a ${lang} block`);
    return { kind: 'shell' };
  }
  throw fail(
    `a block fenced as "${lang}" is neither run (ts, js, sh, bash) nor output (${[...OUTPUT_LANGS].join(', ')})`,
  );
}
