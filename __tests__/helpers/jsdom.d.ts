// jsdom ships no types; the tests use one constructor of it (a window for Mermaid's DOMPurify).
declare module 'jsdom' {
  export class JSDOM {
    constructor(html?: string)
    readonly window: Window & typeof globalThis
  }
}
