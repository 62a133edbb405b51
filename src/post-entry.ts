// The runner starts this file for the post step (action.yml: runs.post).
import { post } from './action/post.ts'

await post()
