// The layering of hvtrace, written once (ARCHITECTURE.md explains it). A module may import its own
// layer and the layers below it, never one above, and no import cycle is allowed anywhere.
// test/architecture.test.ts runs this in `npm test`.
const LAYERS = ['base', 'arch', 'trace', 'host', 'hw', 'kvm', 'guest', 'machine', 'replay', 'analysis'];

const upward = LAYERS.map((layer, i) => ({
  name: `no-upward-from-${layer}`,
  comment: `src/${layer} may import only ${LAYERS.slice(0, i + 1).join(', ')}`,
  severity: 'error',
  from: { path: `^src/${layer}/` },
  to: { path: `^src/(${LAYERS.slice(i + 1).join('|') || '$^'})/` },
}));

module.exports = {
  forbidden: [
    ...upward,
    {
      name: 'src-never-imports-cli-bench-test',
      comment: 'the library (src/) is below the CLI, the benchmarks and the tests',
      severity: 'error',
      from: { path: '^src/' },
      to: { path: '^(cli|bench|test)/' },
    },
    {
      name: 'no-unknown-src-folder',
      comment: `every folder under src/ is one of the layers (${LAYERS.join(', ')})`,
      severity: 'error',
      from: { path: `^src/(?!(${LAYERS.join('|')})/)` },
      to: {},
    },
    {
      name: 'no-circular',
      comment: 'no import cycle, within a layer or across layers',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(node_modules|dist)/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { extensions: ['.ts', '.js'] },
  },
};
