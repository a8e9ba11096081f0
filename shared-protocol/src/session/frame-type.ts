/** The first byte of every frame: what its payload is (PROTOCOL.md section 3). */
export enum FrameType {
  Request = 1,
  Response = 2,
  Event = 3,
  /** Host to module: stop working on the request with this seq. Empty payload. */
  Cancel = 4,
}
