// The runner starts this file (action.yml: runs.main = dist/index.js).
import { run } from './main.ts'

await run()
