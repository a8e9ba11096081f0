import { describe, expect, it } from 'vitest';
import { HARDWARE_REVISIONS } from '../vehicle/hardware.js';
import {
  ANONYMOUS_ALLOWED,
  API_FORMATS,
  API_ROUTES,
  HardwareRevisionSchema,
  ROLES,
  VIN_FORMAT,
  isApiError,
  mayCall,
  openApiPath,
} from './index.js';

describe('the HTTP contract', () => {
  it('names its access on every route, and a unique operation id', () => {
    const ids = new Set<string>();
    for (const route of Object.values(API_ROUTES)) {
      expect(
        route.access === ANONYMOUS_ALLOWED || route.access.every((r) => ROLES.includes(r)),
      ).toBe(true);
      expect(ids.has(route.operationId)).toBe(false);
      ids.add(route.operationId);
    }
  });

  it('lets a role call a route only when the route names it', () => {
    expect(mayCall(ANONYMOUS_ALLOWED, undefined)).toBe(true);
    expect(mayCall(['mechanic', 'agent'], 'agent')).toBe(true);
    expect(mayCall(['mechanic', 'agent'], 'customer')).toBe(false);
    expect(mayCall(['mechanic'], undefined)).toBe(false);
  });

  it('checks VINs with the vehicle rules', () => {
    const vin = API_FORMATS[VIN_FORMAT]!;
    expect(vin(' wmw31dh0302s71642 ')).toBe(true);
    expect(vin('WMW31DH0302S7164')).toBe(false);
    expect(vin('5UXTY5C0YR9U31709')).toBe(false);
  });

  it('lists every hardware revision the vehicle rules know', () => {
    expect((HardwareRevisionSchema as unknown as { enum: string[] }).enum).toEqual(
      HARDWARE_REVISIONS.map((revision) => revision.id),
    );
  });

  it('writes OpenAPI paths and recognises its error shape', () => {
    expect(openApiPath('/v1/firmware/:id/image')).toBe('/v1/firmware/{id}/image');
    expect(isApiError({ error: { code: 'not-found', message: 'x', details: [] } })).toBe(true);
    expect(isApiError({ message: 'x' })).toBe(false);
  });
});
