// Lint, and the architecture's import direction:
//   protocol/, systemd/ ← server/, agent/, cli/ ; testkit/ may import anything ; only bin/ wires parts together.
import tseslint from 'typescript-eslint';
import { importX } from 'eslint-plugin-import-x';
import { createTypeScriptImportResolver } from 'eslint-import-resolver-typescript';

const zone = (target, from, message, except) => ({ target, from, message, ...(except ? { except } : {}) });
// Tests beside the code may use testkit/; production code may not.
const layerZones = (forbidTestkit) => {
  const t = forbidTestkit ? ['src/testkit'] : [];
  return [
    // Except the REST API's generated types (npm run gen:api-types): types only, erased from the bundle.
    zone('console', ['src'], 'the console talks to the server only over HTTP (the public REST API); its types come from src/protocol/gen/openapi.ts', ['./protocol/gen/openapi.ts']),
    zone('src', ['console'], 'the server does not import the console; it serves its built files'),
    zone('src/protocol', ['src/server', 'src/agent', 'src/cli', 'src/bin', 'src/testkit'], 'protocol/ is the bottom layer: it imports no other part'),
    zone('src/systemd', ['src/protocol', 'src/server', 'src/agent', 'src/cli', 'src/bin', 'src/testkit'], 'systemd/ (unit files, shared by the agent and server installs) imports no other part'),
    zone('src/agent', ['src/server', 'src/cli', 'src/bin', ...t], 'the agent talks to the server only over OpAMP'),
    zone('src/server', ['src/agent', 'src/cli', 'src/bin', ...t], 'the server does not import the agent or the CLI'),
    zone('src/cli', ['src/server', 'src/agent', 'src/bin', ...t], 'the CLI talks to the server only over HTTP'),
    // Inside the server, identity and desired state sit below the protocol that uses them.
    zone('src/server/auth', ['src/server/opamp', 'src/server/fleet', 'src/server/api'], 'auth/ decides who a peer is; the layers that check it import auth/, not the reverse'),
    zone('src/server/fleet', ['src/server/opamp', 'src/server/api'], 'fleet/ is desired state; opamp/ and api/ build on it, not the reverse'),
  ];
};

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'src/protocol/gen/**', 'web/dist/**', '.bench-out/**', 'out/**'] },
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts', '**/*.tsx'],
    plugins: { 'import-x': importX },
    settings: { 'import-x/resolver-next': [createTypeScriptImportResolver({ project: ['./tsconfig.json', './console/tsconfig.json'], noWarnOnMultipleProjects: true })] },
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-empty': ['error', { allowEmptyCatch: false }],
      'import-x/no-cycle': 'error',
      'import-x/no-restricted-paths': ['error', { basePath: import.meta.dirname, zones: layerZones(true) }],
      'no-restricted-imports': ['error', { paths: [] }],
    },
  },
  {
    files: ['src/agent/**/*.ts', 'src/cli/**/*.ts', 'src/protocol/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: ['pg', 'better-sqlite3', 'kysely', 'hono', '@hono/node-server', '@hono/zod-openapi'].map((name) => ({
            name,
            message: 'store and HTTP-server libraries belong to the server',
          })),
        },
      ],
    },
  },
  {
    // fetch() needs WebAssembly, which the agent runs without (--lite-mode, src/agent/node-flags.ts): see src/agent/http-request.ts.
    files: ['src/agent/**/*.ts'],
    ignores: ['src/agent/**/*.test.ts'],
    rules: {
      'no-restricted-globals': ['error', { name: 'fetch', message: 'use request() from src/agent/http-request.ts: fetch() needs WebAssembly, which the agent runs without (--lite-mode)' }],
    },
  },
  {
    // The console renders what agents and users send as text: no raw HTML, ever.
    files: ['console/**/*.tsx', 'console/**/*.ts'],
    rules: {
      'no-restricted-syntax': [
        'error',
        { selector: "JSXAttribute[name.name='dangerouslySetInnerHTML']", message: 'render agent and user data as text, never as HTML' },
        { selector: "AssignmentExpression[left.property.name=/^(innerHTML|outerHTML)$/]", message: 'render agent and user data as text, never as HTML' },
        { selector: "CallExpression[callee.property.name='insertAdjacentHTML']", message: 'render agent and user data as text, never as HTML' },
      ],
    },
  },
  {
    files: ['**/*.test.ts', 'test/**/*.ts', 'bench/**/*.ts', 'src/testkit/**/*.ts'],
    rules: {
      '@typescript-eslint/no-non-null-assertion': 'off',
      'import-x/no-restricted-paths': ['error', { basePath: import.meta.dirname, zones: layerZones(false) }],
    },
  },
);
