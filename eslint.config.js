// Type-checked ESLint for the whole monorepo. `npm run lint` runs it with --max-warnings 0.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'coverage/**', 'node_modules/**', 'data/**'] },
  js.configs.recommended,
  ...tseslint.configs.strictTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/switch-exhaustiveness-check': [
        'error',
        { considerDefaultExhaustiveForUnions: true },
      ],
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      '@typescript-eslint/no-extraneous-class': ['error', { allowWithDecorator: true }],
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true }],
      // Nest declares its option bags (NestApplicationContextOptions, …) as classes with only public fields and
      // documents passing literals; this rule would demand a disable comment at every NestFactory call.
      '@typescript-eslint/no-unsafe-class-instance-assignment': 'off',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              // A lib may declare a second, lighter front door in tsconfig's paths: registry/rules is the registry
              // without Nest and TypeORM, for the CLI's start-up. A regex, not a group with a `!` negation: the
              // negation also let through every path below it (registry/rules/…) and other letter cases.
              regex: '^@artifactstore/(?!registry/rules$)[^/]+/',
              caseSensitive: true,
              message: 'Import a lib through its front door (@artifactstore/<lib>), never a deep path.',
            },
            {
              regex: '^\\.{1,2}/.*(/src/|/libs/|/apps/)',
              message:
                'Reach another lib or app through its @artifactstore/<lib> alias, not a relative path.',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['**/*.js', '**/*.mjs'],
    extends: [tseslint.configs.disableTypeChecked],
    languageOptions: { globals: { process: 'readonly', console: 'readonly', Buffer: 'readonly' } },
  },
  {
    files: ['test/**/*.ts', '**/*.spec.ts'],
    rules: {
      // Jest's expect(...).rejects and mock helpers trip these in tests only.
      '@typescript-eslint/unbound-method': 'off',
      '@typescript-eslint/no-non-null-assertion': 'off',
    },
  },
);
