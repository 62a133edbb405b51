// The runner starts this file (action.yml: runs.main = dist/index.js).
import { run } from './action/main.ts'

await run()
