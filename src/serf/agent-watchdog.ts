// The action's own agent runs in a process group of its own, so the signals a
// runner or a CI system sends the action's group miss it. Were the action
// killed outright (SIGKILL, or a CLI with no post step), the agent would stay
// in the cluster with its RPC key in a temp dir. A watchdog, a small `sh` loop
// started beside the agent and detached too, makes it leave once the process
// that started it is gone: SIGINT (Serf's graceful leave), SIGKILL when it has
// not exited after LEAVE_S, then its temp dir goes. It ends by itself as soon
// as the agent exits (the action made it leave).
import { spawn } from 'node:child_process'

/** How long the agent has to leave after the SIGINT before it is killed. */
export const WATCHDOG_LEAVE_S = 15

// $1 the action's pid, $2 the agent's pid, $3 its temp dir. The agent is
// signalled only while its command line still names its config file (the pid
// is its, not a reused one): from ps, or /proc where a slim image has no ps.
const SCRIPT = [
  'p=$1; a=$2; d=$3',
  'alive() { kill -0 "$1" 2>/dev/null; }',
  'while alive "$p" && alive "$a"; do sleep 1; done',
  'alive "$a" || exit 0',
  `{ ps -o args= -p "$a" 2>/dev/null || tr '\\0' ' ' <"/proc/$a/cmdline"; } 2>/dev/null | grep -qF "$d/config.json" || exit 0`,
  'kill -INT "$a"',
  `i=0; while alive "$a" && [ $i -lt ${WATCHDOG_LEAVE_S} ]; do sleep 1; i=$((i + 1)); done`,
  'alive "$a" && kill -KILL "$a"',
  'rm -rf "$d"'
].join('\n')

/** Starts the watchdog of the agent (its pid and temp dir) for the process `parentPid` (this one by default). */
export function watchAgent(agent: { pid: number; dir: string }, parentPid = process.pid): void {
  const watchdog = spawn(
    'sh',
    ['-c', SCRIPT, 'stretcher-action-watchdog', String(parentPid), String(agent.pid), agent.dir],
    { detached: true, stdio: 'ignore' }
  )
  // Without sh the post step (or nobody, for a CLI) makes the agent leave, as before.
  watchdog.on('error', () => undefined)
  watchdog.unref()
}
