/**
 * An input the user gave is wrong. The message is one line that names the
 * input and what was wrong with it; main.ts prints it with core.setFailed.
 */
export class InputError extends Error {
  readonly input: string

  constructor(input: string, message: string) {
    super(`${input} ${message}`.replace(/\s*\n\s*/g, ' '))
    this.name = 'InputError'
    this.input = input
  }
}

/** Quote a user value for an error message, bounded so one line stays one line. */
export function quote(value: string, max = 120): string {
  const oneLine = value.replace(/[\r\n\t]/g, ' ')
  return JSON.stringify(oneLine.length > max ? `${oneLine.slice(0, max)}…` : oneLine)
}
