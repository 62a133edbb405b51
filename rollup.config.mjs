// Rollup turns src/ into one ESM file the runner can start with no node_modules,
// as actions/typescript-action does (ncc cannot bundle the ESM-only @actions/*).
import commonjs from '@rollup/plugin-commonjs'
import json from '@rollup/plugin-json'
import { nodeResolve } from '@rollup/plugin-node-resolve'
import typescript from '@rollup/plugin-typescript'

export default {
  input: 'src/index.ts',
  output: {
    esModule: true,
    file: 'dist/index.js',
    format: 'es',
    sourcemap: false,
    inlineDynamicImports: true
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
