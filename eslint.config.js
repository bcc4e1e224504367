// Lint rules, including the folder boundaries of DESIGN.md §2:
// - engine/ imports TensorFlow.js and its own files only (no Node, no Electron, no SQLite);
// - only src-main/electron/ imports electron;
// - the renderer imports nothing from src-main except api type definitions.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const nodeBuiltins = [
  'node:*',
  'fs',
  'path',
  'os',
  'child_process',
  'worker_threads',
  'crypto',
  'http',
];

export default tseslint.config(
  {
    ignores: [
      'node_modules/',
      'dist/',
      'out/',
      'test-output/',
      'bench/results/',
      'resources/',
      '**/*.svelte',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': [
        'error',
        {
          allowForKnownSafeCalls: [
            { from: 'package', package: 'node:test', name: ['test', 'describe', 'it', 'suite'] },
          ],
        },
      ],
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_' },
      ],
      'no-restricted-imports': [
        'error',
        { paths: [{ name: 'electron', message: 'Only src-main/electron/ may import electron.' }] },
      ],
    },
  },
  ...[
    ['src-main/engine/*.ts', '^\\.\\./'],
    ['src-main/engine/*/*.ts', '^(\\.\\./){2,}'],
    ['src-main/engine/*/*/**/*.ts', '^(\\.\\./){3,}'],
  ].map(([files, outside]) => ({
    files: [files],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [{ name: 'electron', message: 'engine/ must not import electron.' }],
          patterns: [
            {
              group: nodeBuiltins,
              message: 'engine/ runs anywhere TensorFlow.js runs: no Node built-ins.',
            },
            {
              group: ['better-sqlite3', 'sharp'],
              message: 'engine/ imports TensorFlow.js and its own files only.',
            },
            { regex: outside, message: 'engine/ imports only files inside engine/.' },
          ],
        },
      ],
    },
  })),
  {
    files: ['src-main/electron/**/*.ts'],
    rules: { 'no-restricted-imports': 'off' },
  },
  {
    files: ['src-renderer/**/*.ts'],
    rules: {
      'no-restricted-imports': 'off',
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          paths: [{ name: 'electron', message: 'Only src-main/electron/ may import electron.' }],
          patterns: [
            {
              regex: '^(\\.\\./)+src-main/(?!api/)',
              message: 'The renderer talks to the api contract only.',
            },
            {
              regex: '^(\\.\\./)+src-main/api/',
              allowTypeImports: true,
              message: 'The renderer imports only type definitions from the api (import type).',
            },
            {
              group: nodeBuiltins,
              message: 'The renderer runs in a sandboxed page: no Node built-ins.',
            },
          ],
        },
      ],
      '@typescript-eslint/consistent-type-imports': 'error',
    },
  },
  {
    files: ['**/*.js', '**/*.mjs'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly', URL: 'readonly' } },
  },
);
