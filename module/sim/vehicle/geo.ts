/** Positions and distances on the WGS 84 globe, as much as a simulated drive needs. */

export interface GeoPoint {
  /** Degrees north, -90..90. */
  lat: number;
  /** Degrees east, -180..180. */
  lon: number;
}

const EARTH_RADIUS_KM = 6371.0088;

/** Great-circle distance (haversine): good to ~0.5 % anywhere, plenty for an odometer. */
export function distanceKm(from: GeoPoint, to: GeoPoint): number {
  const rad = Math.PI / 180;
  const dLat = (to.lat - from.lat) * rad;
  const dLon = (to.lon - from.lon) * rad;
  const h =
    Math.sin(dLat / 2) ** 2 +
    Math.cos(from.lat * rad) * Math.cos(to.lat * rad) * Math.sin(dLon / 2) ** 2;
  return 2 * EARTH_RADIUS_KM * Math.asin(Math.min(1, Math.sqrt(h)));
}

/**
 * The point a fraction of the way from `from` to `to`. Linear in degrees: within the few hundred
 * kilometres a test drives, the path differs from the great circle by metres. A drive across the
 * 180° meridian goes the long way round on the map (no car here does that).
 */
export function interpolate(from: GeoPoint, to: GeoPoint, fraction: number): GeoPoint {
  const f = Math.min(1, Math.max(0, fraction));
  return { lat: from.lat + (to.lat - from.lat) * f, lon: from.lon + (to.lon - from.lon) * f };
}

/** Why a point is not a position on Earth, or undefined when it is one. */
export function geoPointProblem(point: unknown): string | undefined {
  if (typeof point !== 'object' || point === null) return 'must be { lat, lon }';
  const { lat, lon } = point as Record<string, unknown>;
  if (typeof lat !== 'number' || !Number.isFinite(lat) || lat < -90 || lat > 90) {
    return `lat must be a number of degrees within -90..90, is ${String(lat)}`;
  }
  if (typeof lon !== 'number' || !Number.isFinite(lon) || lon < -180 || lon > 180) {
    return `lon must be a number of degrees within -180..180, is ${String(lon)}`;
  }
  return undefined;
}

/** Where a car of each market starts when the fleet file says nothing: a dealership city. */
// prettier-ignore
const MARKET_HOME: Readonly<Record<string, GeoPoint>> = {
  DE: { lat: 48.1771, lon: 11.5562 }, // Munich
  AT: { lat: 48.2082, lon: 16.3738 }, // Vienna
  NL: { lat: 52.3676, lon: 4.9041 }, // Amsterdam
  FR: { lat: 48.8566, lon: 2.3522 }, // Paris
  IT: { lat: 45.4642, lon: 9.19 }, // Milan
  ES: { lat: 40.4168, lon: -3.7038 }, // Madrid
  CH: { lat: 47.3769, lon: 8.5417 }, // Zurich
  GB: { lat: 51.752, lon: -1.2577 }, // Oxford
  US: { lat: 40.7128, lon: -74.006 }, // New York
};

export function homePositionOf(market: string): GeoPoint {
  return { ...(MARKET_HOME[market] ?? (MARKET_HOME.DE as GeoPoint)) };
}
