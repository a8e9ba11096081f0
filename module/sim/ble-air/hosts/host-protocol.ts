// The child side of HostProcess: events out, requests in, over Node's IPC channel; on a
// terminal (no IPC), events are printed as JSON lines so the scripts double as demos.

export type RequestHandler = (args: Record<string, unknown>) => Promise<unknown>;

export function report(event: string, detail: Record<string, unknown> = {}): void {
  const message = { event, ...detail };
  if (process.send) process.send(message);
  else console.log(JSON.stringify(message));
}

/**
 * Answers `{ id, op, ...args }` requests with `{ id, result }` or `{ id, error }`. The host
 * exits when its parent goes away, so a crashed test leaves no host behind.
 */
export function serveRequests(handlers: Record<string, RequestHandler>, onExit: () => void): void {
  if (!process.send) return;
  process.on('message', (message: { id?: unknown; op?: unknown }) => {
    const { id, op, ...args } = message;
    if (typeof id !== 'number' || typeof op !== 'string') return;
    const handler = handlers[op];
    const answer = handler
      ? handler(args)
      : Promise.reject(
          new Error(`unknown request ${op}; known: ${Object.keys(handlers).join(', ')}`),
        );
    answer.then(
      (result) => process.send?.({ id, result }),
      (error: unknown) =>
        process.send?.({ id, error: error instanceof Error ? error.message : String(error) }),
    );
  });
  process.on('disconnect', () => {
    onExit();
    process.exit(0);
  });
  process.on('SIGTERM', () => {
    onExit();
    process.exit(0);
  });
}

export function stringOption(args: string[], name: string): string | undefined {
  const index = args.indexOf(`--${name}`);
  return index >= 0 ? args[index + 1] : undefined;
}
