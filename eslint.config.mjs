// ESLint 9 flat config: typescript-eslint's recommended rules everywhere, plus a few
// type-aware rules (cheap ones, through the project service) for the TypeScript sources.
import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  {
    ignores: ['dist/', 'example-app/dist/', 'node_modules/', 'coverage/', 'screenshots/'],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
      globals: { ...globals.node },
    },
    rules: {
      // Type-aware rules that catch real bugs for little cost.
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: false }],
      '@typescript-eslint/await-thenable': 'error',
      // `_`-prefixed parameters are deliberately unused (Express error handlers need four
      // arguments, Passport verify callbacks have fixed positions).
      // Sanitising code matches control characters on purpose (CR/LF/tab-split return-to
      // paths, header values), so a regex naming \x00-\x1f is intended, not a typo.
      'no-control-regex': 'off',
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' },
      ],
    },
  },
  {
    files: ['**/*.js', '**/*.cjs', '**/*.mjs'],
    ...tseslint.configs.disableTypeChecked,
    languageOptions: { globals: { ...globals.node } },
  },
  {
    files: ['**/*.js', '**/*.cjs'],
    languageOptions: { sourceType: 'commonjs', globals: { ...globals.node } },
    rules: {
      // CommonJS scripts load modules with require().
      '@typescript-eslint/no-require-imports': 'off',
    },
  },
  {
    files: ['__tests__/**/*.ts'],
    languageOptions: { globals: { ...globals.jest } },
    rules: {
      // Tests read raw session JSON back from Redis and poke at it; typing every shape
      // there would add noise, not safety.
      '@typescript-eslint/no-explicit-any': 'off',
    },
  },
  {
    files: ['example-app/public/**/*.js'],
    languageOptions: { sourceType: 'script', globals: { ...globals.browser } },
  },
);
