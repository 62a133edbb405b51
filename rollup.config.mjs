// Rollup turns src/ into ESM files the runner can start with no node_modules,
// as actions/typescript-action does (ncc cannot bundle the ESM-only @actions/*).
// Three entries share chunks under dist/lib: the action, its post step, the CLI.
import commonjs from '@rollup/plugin-commonjs'
import json from '@rollup/plugin-json'
import { nodeResolve } from '@rollup/plugin-node-resolve'
import typescript from '@rollup/plugin-typescript'

export default {
  input: { index: 'src/index.ts', post: 'src/post-entry.ts', cli: 'src/cli-entry.ts' },
  output: {
    esModule: true,
    dir: 'dist',
    format: 'es',
    sourcemap: false,
    entryFileNames: '[name].js',
    chunkFileNames: 'lib/[name].js'
  },
  onwarn(warning, warn) {
    // The AWS SDK and @actions/* use `this` at module top level in their CJS builds.
    if (warning.code === 'THIS_IS_UNDEFINED' || warning.code === 'CIRCULAR_DEPENDENCY') return
    warn(warning)
  },
  plugins: [
    typescript({ tsconfig: './tsconfig.build.json', outputToFilesystem: false }),
    nodeResolve({ preferBuiltins: true, exportConditions: ['node', 'import', 'default'] }),
    commonjs(),
    json()
  ]
}
