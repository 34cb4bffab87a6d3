/** Help texts of the command line. */

/**
 * An "Examples:" section for commander's `addHelpText('after', …)`: each example a short
 * explanation (may be empty) and the command.
 *
 * @example
 * command.addHelpText('after', examples([['show a database', 'npx settee info shop.sqlite']]));
 */
export function examples(list: [explanation: string, command: string][]): string {
  const lines = list.flatMap(([explanation, command]) =>
    explanation === '' ? [`  $ ${command}`] : [`  # ${explanation}`, `  $ ${command}`],
  );
  return `\nExamples:\n${lines.join('\n')}\n`;
}
