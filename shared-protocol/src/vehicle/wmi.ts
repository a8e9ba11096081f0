/**
 * World manufacturer identifiers (VIN positions 1–3) and VIN regions (position 1, ISO 3780).
 * The table is deliberately small: the brands this product serves. An unknown WMI is not an
 * error, only an unknown manufacturer.
 */

export type VehicleBrand = 'MINI' | 'BMW';

export interface WorldManufacturer {
  wmi: string;
  brand: VehicleBrand;
  /** Who the WMI is registered to, in words for a mechanic. */
  manufacturer: string;
  /** ISO 3166-1 alpha-2 country of the WMI registration (where the car was built). */
  country: string;
  note: string;
}

/**
 * Sources: the public WMI lists (SAE/NHTSA data as republished, e.g. in the vininfo project's
 * table). MINI WMIs are WMW and WMZ; everything else here is BMW.
 */
export const WORLD_MANUFACTURERS: readonly WorldManufacturer[] = [
  {
    wmi: 'WMW',
    brand: 'MINI',
    manufacturer: 'MINI (BMW AG)',
    country: 'GB',
    note: 'MINI passenger cars: Oxford (UK) and contract assembly (e.g. VDL Nedcar, Born, NL)',
  },
  {
    wmi: 'WMZ',
    brand: 'MINI',
    manufacturer: 'MINI (BMW AG)',
    country: 'DE',
    note: 'MINI, listed separately in public WMI tables (used on Countryman-family models)',
  },
  {
    wmi: 'WBA',
    brand: 'BMW',
    manufacturer: 'BMW AG',
    country: 'DE',
    note: 'BMW passenger cars',
  },
  { wmi: 'WBS', brand: 'BMW', manufacturer: 'BMW M GmbH', country: 'DE', note: 'BMW M cars' },
  {
    wmi: 'WBX',
    brand: 'BMW',
    manufacturer: 'BMW AG',
    country: 'DE',
    note: 'BMW X models (SAV)',
  },
  { wmi: 'WBY', brand: 'BMW', manufacturer: 'BMW AG', country: 'DE', note: 'BMW i models' },
  {
    wmi: '4US',
    brand: 'BMW',
    manufacturer: 'BMW Manufacturing Co.',
    country: 'US',
    note: 'BMW cars built in Spartanburg (US)',
  },
  {
    wmi: '5UX',
    brand: 'BMW',
    manufacturer: 'BMW Manufacturing Co.',
    country: 'US',
    note: 'BMW X models built in Spartanburg (US)',
  },
  {
    wmi: '5YM',
    brand: 'BMW',
    manufacturer: 'BMW Manufacturing Co.',
    country: 'US',
    note: 'BMW X M models built in Spartanburg (US)',
  },
];

const BY_WMI: ReadonlyMap<string, WorldManufacturer> = new Map(
  WORLD_MANUFACTURERS.map((entry) => [entry.wmi, entry]),
);

/** The manufacturer of a WMI or of a whole VIN (first 3 characters); undefined when unknown. */
export function manufacturerOf(wmiOrVin: string): WorldManufacturer | undefined {
  return BY_WMI.get(wmiOrVin.trim().slice(0, 3).toUpperCase());
}

/** True for the WMIs registered to MINI (WMW, WMZ). Accepts a WMI or a whole VIN. */
export function isMiniWmi(wmiOrVin: string): boolean {
  return manufacturerOf(wmiOrVin)?.brand === 'MINI';
}

export type VinRegion =
  'africa' | 'asia' | 'europe' | 'north-america' | 'oceania' | 'south-america';

/** Region of manufacture from VIN position 1 (ISO 3780); undefined for unassigned characters. */
export function vinRegionOf(firstCharacter: string): VinRegion | undefined {
  const c = firstCharacter.toUpperCase();
  if (c.length !== 1) return undefined;
  if (c >= 'A' && c <= 'H') return 'africa';
  if (c >= 'J' && c <= 'R') return 'asia';
  if (c >= 'S' && c <= 'Z') return 'europe';
  if (c >= '1' && c <= '5') return 'north-america';
  if (c === '6' || c === '7') return 'oceania';
  if (c === '8' || c === '9') return 'south-america';
  return undefined;
}
