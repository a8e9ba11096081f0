/**
 * Logging for the module link: a pino logger (Fastify's `app.log` fits) and a throttle, so a
 * flood of forged messages or bad logins is counted in full but logged a few times a minute.
 */
import type { BaseLogger } from 'pino';

/** The part of a pino logger the link uses. */
export type LinkLogger = Pick<BaseLogger, 'debug' | 'info' | 'warn' | 'error'>;

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

/** Logs at most `perMinute` lines per key a minute; says how many it held back. */
export class ThrottledLog {
  readonly #windows = new Map<string, { startMs: number; logged: number; held: number }>();

  constructor(
    private readonly logger: LinkLogger,
    private readonly perMinute = 20,
    private readonly now: () => number = Date.now,
  ) {}

  log(level: LogLevel, key: string, fields: object, message: string): void {
    const nowMs = this.now();
    let window = this.#windows.get(key);
    if (!window || nowMs - window.startMs >= 60_000) {
      if (window && window.held > 0) {
        this.logger[level](
          { ...fields, suppressed: window.held },
          `${message} (and ${window.held} more like it in the last minute)`,
        );
      }
      if (this.#windows.size > 1000) this.#windows.clear();
      window = { startMs: nowMs, logged: 0, held: 0 };
      this.#windows.set(key, window);
    }
    if (window.logged < this.perMinute) {
      window.logged += 1;
      this.logger[level](fields, message);
    } else {
      window.held += 1;
    }
  }
}
