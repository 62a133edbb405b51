// Keeps the action's heap near what it holds (issue #19: peak RSS at 10,000
// nodes). The action reads answers of megabytes (the catalog, each blocking read
// of results/) whose objects survive a scavenge or two while they are parsed and
// used; V8 answers that by doubling the young generation up to 2 × 64 MB, and the
// peak RSS followed (237-285 MB) while data that survives a full GC is ~25 MB.
// The semi-space size flags are read only when the heap is made (an action
// cannot give its `node` flags), but these two are read each time V8 grows a
// space: the young generation stays at its start size, and the old one, which
// now takes the survivors, is collected once it grows 30% past what it held
// (V8 otherwise lets it double or more first). Costs ~0.5 s of CPU at 10,000 nodes.
import { setFlagsFromString } from 'node:v8'

setFlagsFromString('--semi-space-growth-factor=1')
setFlagsFromString('--heap-growing-percent=30')
