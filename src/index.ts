// The runner starts this file (action.yml: runs.main = dist/index.js).
// First, before the bundle's modules allocate: the young generation's growth.
import './shared/young-generation.ts'
import { run } from './action/main.ts'

await run()
