// Runs a virtual serial line until SIGINT/SIGTERM:
//   npx tsx module/sim/serial-line/cli.ts --dir .sim/ports [--name serial] [--time-scale 1]
//     [--seed 1] [--module-dir <folder>]
import { parseArgs } from 'node:util';
import { VirtualSerialLine } from './virtual-serial-line.js';

const { values } = parseArgs({
  options: {
    dir: { type: 'string' },
    'module-dir': { type: 'string' },
    name: { type: 'string' },
    'time-scale': { type: 'string' },
    seed: { type: 'string' },
  },
});

function numberOption(name: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const value = Number(text);
  if (!Number.isFinite(value)) throw new Error(`--${name} must be a number, got ${text}`);
  return value;
}

const line = await VirtualSerialLine.open({
  dir: values.dir,
  moduleDir: values['module-dir'],
  name: values.name,
  timeScale: numberOption('time-scale', values['time-scale']),
  seed: numberOption('seed', values.seed),
});
console.log(`app end:    ${line.appPath}`);
console.log(`module end: ${line.modulePath}`);
line.on('baudRate', ({ end, baudRate }) =>
  console.log(`${end} end: ${baudRate ?? 'not set'} baud`),
);
line.on('failure', (reason) => console.error(`line failed: ${reason}`));

let stopping = false;
async function stop(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  console.log(`${signal}: closing the line`);
  await line.close();
  process.exit(0);
}
process.on('SIGINT', () => void stop('SIGINT'));
process.on('SIGTERM', () => void stop('SIGTERM'));
