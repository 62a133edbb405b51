// Errors carrying an HTTP status, as agent/http.go's HTTPError; any other
// Error becomes a 500 with its text (agent/http.go wrap → handleErr default).
export class HttpError extends Error {
  readonly status: number
  constructor(status: number, message: string) {
    super(message)
    this.status = status
  }
}
