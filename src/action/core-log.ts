// The pipeline's Log on @actions/core: the runner's log, groups and annotations.
import * as core from '@actions/core'
import type { Log } from '../shared/log.ts'

export const coreLog: Log = {
  info: (m) => core.info(m),
  warning: (m) => core.warning(m),
  debug: (m) => core.debug(m),
  group: (name, body) => core.group(name, body)
}
