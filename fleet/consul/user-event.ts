// A user event as an agent holds it (agent/user_event.go UserEvent), apart from
// events.ts so the HTTP layer can name it without importing the handlers.
export interface UserEvent {
  id: string
  name: string
  payload: Buffer | null
  nodeFilter: string
  serviceFilter: string
  tagFilter: string
  version: number
  ltime: number
}
