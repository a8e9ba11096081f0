/** For tests only: a real pino logger whose lines tests can read. */
import { pino } from 'pino';
import type { LinkLogger } from '../log.js';

export interface LogLine {
  level: number;
  msg: string;
  [field: string]: unknown;
}

export function testLogger(): { logger: LinkLogger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const logger = pino(
    { level: 'debug' },
    { write: (line: string) => void lines.push(JSON.parse(line) as LogLine) },
  );
  return { logger, lines };
}
