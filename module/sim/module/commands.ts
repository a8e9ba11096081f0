/**
 * module-sim's commands: one line of text in, one reply out. Kept apart from the CLI's I/O so
 * tests can drive them.
 */
import { DOORS, type Door } from '../vehicle/index.js';
import type { RunningFleet } from './fleet-runner.js';

export const HELP = `commands (CAR is a VIN, a module serial or the car's number):
  show [CAR]                      the car's state (all cars without CAR)
  drive CAR LAT LON [KMH]         drive to a place (default 50 km/h; releases nothing itself)
  park CAR                        stop, ignition off
  lock CAR | unlock CAR           work the central lock with the car's own key
  door CAR DOOR open|close        doors: ${DOORS.join(', ')}
  battery CAR pull|restore        disconnect or reconnect the 12 V battery (powers the module)
  charger CAR on|off              workshop charger on the 12 V battery (flashing needs 13.0 V)
  keys CAR 0|1|2                  physical keys in the cabin
  clock [+|-]AMOUNT[s|m|h|d]       move the simulated time of every car (e.g. clock +3h)
  clock scale FACTOR              simulated seconds per real second
  help                            this list
  quit                            stop everything`;

export function describeFleet(
  fleet: RunningFleet,
  where: { portsDir: string; firmwareDir: string; factoryVersion: string },
): string {
  const lines = [`${fleet.cars.length} simulated cars`];
  fleet.cars.forEach((car, index) => {
    const v = car.fleetVehicle;
    const sharing = v.optionCodes.includes('5GE') ? '5GE' : 'no 5GE';
    lines.push(`  ${index + 1}. ${v.vin} ${v.model} (${v.market}, ${sharing})`);
    if (car.module) {
      lines.push(`     module ${car.module.serial}: serial port ${car.module.line.appPath}`);
      if (car.module.blePort) lines.push(`     its Bluetooth controller ${car.module.blePort}`);
    } else {
      lines.push('     no module installed');
    }
  });
  if (fleet.ble) {
    lines.push(
      `  Bluetooth: one virtual air; phone controllers (HCI UART for noble): ${fleet.ble.phonePorts.join(', ')}`,
    );
    lines.push(
      "    e.g. withBindings('hci', { hciDriver: 'uart', bindParams: { uart: { port, baudRate: 1000000 } } })",
    );
  } else {
    const why = fleet.bleProblem ? `the virtual air did not start: ${fleet.bleProblem}` : 'off';
    lines.push(`  Bluetooth: ${why}; the modules run without a key link`);
  }
  lines.push(
    `  modules start with firmware ${where.factoryVersion}; signed images in ${where.firmwareDir}`,
  );
  lines.push(`  the workshop app finds the modules' serial ports in ${where.portsDir}`);
  lines.push('Type "help" for commands.');
  return lines.join('\n');
}

/** Runs one command; returns the reply, or 'quit'. Never throws. */
export function runCommand(fleet: RunningFleet, line: string): string {
  const [command, id, ...args] = line.trim().split(/\s+/);
  if (!command) return '';
  try {
    if (command === 'help') return HELP;
    if (command === 'quit' || command === 'exit') return 'quit';
    if (command === 'clock') return clockCommand(fleet, id, args[0]);
    if (command === 'show' && !id) {
      return fleet.cars.map((car) => JSON.stringify(car.vehicle.snapshot())).join('\n');
    }
    if (!CAR_COMMANDS.has(command)) return `Unknown command "${command}". ${HELP}`;
    const car = id ? fleet.find(id) : undefined;
    if (!car)
      return `No car "${id ?? ''}": use a VIN, a module serial or a number from 1 to ${fleet.cars.length}`;
    const { vehicle } = car;
    switch (command) {
      case 'show':
        return JSON.stringify(vehicle.snapshot(), null, 2);
      case 'drive': {
        const [lat, lon, kmh] = args.map(Number);
        if (
          lat === undefined ||
          lon === undefined ||
          !Number.isFinite(lat) ||
          !Number.isFinite(lon)
        ) {
          return 'Usage: drive CAR LAT LON [KMH], e.g. drive 1 48.1372 11.5756 50';
        }
        const started = vehicle.drive({ to: { lat, lon }, speedKmh: kmh && kmh > 0 ? kmh : 50 });
        return `driving: ${JSON.stringify(started, (_key, value: unknown) => (value instanceof Promise ? undefined : value))}`;
      }
      case 'park':
        vehicle.park();
        return 'parked';
      case 'lock':
        vehicle.lock('key');
        return 'locked';
      case 'unlock':
        vehicle.unlock('key');
        return 'unlocked';
      case 'door': {
        const [door, state] = args;
        if (!DOORS.includes(door as Door) || (state !== 'open' && state !== 'close')) {
          return `Usage: door CAR DOOR open|close, DOOR one of ${DOORS.join(', ')}`;
        }
        if (state === 'open') vehicle.openDoor(door as Door);
        else vehicle.closeDoor(door as Door);
        return `${door} ${state === 'open' ? 'opened' : 'closed'}`;
      }
      case 'battery':
        if (args[0] === 'pull') vehicle.pullBattery();
        else if (args[0] === 'restore') vehicle.restoreBattery();
        else return 'Usage: battery CAR pull|restore';
        return `12 V battery ${args[0] === 'pull' ? 'disconnected: the module is off' : 'reconnected: the module boots'}`;
      case 'charger':
        if (args[0] !== 'on' && args[0] !== 'off') return 'Usage: charger CAR on|off';
        vehicle.setCharger(args[0] === 'on');
        return `charger ${args[0]}: supply ${(vehicle.snapshot().supplyMillivolts / 1000).toFixed(1)} V`;
      case 'keys': {
        const count = Number(args[0]);
        if (![0, 1, 2].includes(count)) return 'Usage: keys CAR 0|1|2';
        vehicle.setKeysInCabin(count);
        return `${count} physical key${count === 1 ? '' : 's'} in the cabin`;
      }
      default:
        return `Unknown command "${command}". ${HELP}`;
    }
  } catch (error) {
    return `Refused: ${error instanceof Error ? error.message : String(error)}`;
  }
}

const CAR_COMMANDS = new Set([
  'show',
  'drive',
  'park',
  'lock',
  'unlock',
  'door',
  'battery',
  'charger',
  'keys',
]);

const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

function clockCommand(
  fleet: RunningFleet,
  amount: string | undefined,
  factor: string | undefined,
): string {
  const time = () => new Date(fleet.clock.now()).toISOString();
  if (!amount) return `simulated time ${time()}, ${fleet.clock.timeScale}x real time`;
  if (amount === 'scale') {
    const scale = Number(factor);
    if (!Number.isFinite(scale) || scale < 0)
      return 'Usage: clock scale FACTOR (0 pauses, 1 is real time)';
    fleet.clock.setTimeScale(scale);
    return `time scale ${scale}x`;
  }
  const match = /^([+-]?)(\d+(?:\.\d+)?)([smhd])$/.exec(amount);
  if (!match) return 'Usage: clock +3h (s, m, h or d; - moves the clock back, as a clock rollback)';
  const ms = Number(match[2]) * (UNIT_MS[match[3] ?? 's'] ?? 1000) * (match[1] === '-' ? -1 : 1);
  fleet.clock.jump(ms);
  return `simulated time ${time()}`;
}
