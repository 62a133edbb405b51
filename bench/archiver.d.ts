// archiver 8 ships no types (and @types/archiver describes 7's factory API):
// just the part bench/publish-child.ts uses.
declare module 'archiver' {
  import type { Writable } from 'node:stream'
  import type { ZlibOptions } from 'node:zlib'
  export interface TarArchiveOptions {
    gzip?: boolean
    gzipOptions?: ZlibOptions
  }
  export class TarArchive {
    constructor(options?: TarArchiveOptions)
    directory(dirpath: string, destpath: string | false): this
    finalize(): Promise<void>
    pipe<T extends Writable>(destination: T): T
    on(event: 'error' | 'warning', listener: (err: Error) => void): this
    pointer(): number
  }
}
