/**
 * The example fleet the simulated workshop uses when no fleet file is given: MINIs with and
 * without 5GE, with and without a fitted module, EU and US markets, and a North American VIN.
 */
import exampleFleetJson from './example-fleet.json' with { type: 'json' };
import { formatFleetFileError, parseFleetFile, type Fleet } from './fleet-file.js';

/** The example fleet file as JSON data (parse it with parseFleetFile, or use exampleFleet()). */
export const EXAMPLE_FLEET_JSON: unknown = exampleFleetJson;

/** A fresh, validated copy of the example fleet. Throws only if the shipped file is broken. */
export function exampleFleet(): Fleet {
  const result = parseFleetFile(exampleFleetJson);
  if (!result.ok) {
    throw new Error(
      `example-fleet.json is invalid: ${result.errors.map(formatFleetFileError).join('; ')}`,
    );
  }
  return result.fleet;
}
