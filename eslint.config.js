// @ts-check
import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'dist-check/', 'node_modules/', 'scratch/', 'bench-results/', 'coverage/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      // Intentionally unused bindings (destructuring to drop a field) start with an underscore.
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_' },
      ],
      '@typescript-eslint/no-explicit-any': 'error',
    },
  },
  // The web page's ES modules run in the browser, not in Node.
  { files: ['ui/**/*.js'], languageOptions: { globals: globals.browser } },
  // CI's own scripts run in Node.
  { files: ['.ci/**/*.mjs'], languageOptions: { globals: globals.node } },
);
