// Flat ESLint config: typescript-eslint's recommended rules over src, webview, test and bench,
// and the layering rule: the extension host, the webview, configs, the protocol and src/shared
// never load TensorFlow.js (test/lint/layering.test.ts proves the rule fires).
import tseslint from 'typescript-eslint';

/** Modules of src/core that do not load tfjs, and so may be imported by every layer. */
const TFJS_FREE_CORE = ['format', 'backendNames', 'verdictBands', 'gradients/catalog', 'solvers/catalog'];

const LAYERING_PATTERNS = [
  { regex: '^@tensorflow/', message: 'this layer must not load TensorFlow.js' },
  {
    regex: `(^|/)core/(?!(${TFJS_FREE_CORE.join('|')})$)`,
    allowTypeImports: true,
    message: `this layer must not load TensorFlow.js: of src/core only ${TFJS_FREE_CORE.join(', ')} (and type imports)`,
  },
  { regex: '(^|/)experiments(/(?!catalog$)|$)', allowTypeImports: true, message: 'this layer must not load the experiments (TensorFlow.js): use experiments/catalog' },
  { regex: '(^|/)run/(runner|gradcheck)$', allowTypeImports: true, message: 'this layer must not load the training loop or the gradient check (TensorFlow.js): type imports only' },
];

export default tseslint.config(
  { ignores: ['dist/**', 'out/**', 'node_modules/**', 'tmp/**', '.e2e/**', 'media/**'] },
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-non-null-assertion': 'off',
    },
  },
  {
    files: ['src/extension/**/*.ts', 'webview/**/*.ts', 'src/config/**/*.ts', 'src/protocol/**/*.ts', 'src/shared/**/*.ts'],
    rules: { '@typescript-eslint/no-restricted-imports': ['error', { patterns: LAYERING_PATTERNS }] },
  },
);
