// The HTTP API contract between the cloud and its clients (workshop app, companion): every
// route's method, path, access (roles) and TypeBox schemas, and the common error shape. No I/O;
// runs in Node and browsers. The cloud registers these schemas and serves them as OpenAPI.
import { changePassword, getMe, login, logout } from './auth.js';
import { downloadFirmwareImage, listFirmwareImages, publishFirmwareImage } from './firmware.js';
import { issueServiceAuthorization, issueWorkshopTestKey } from './grants.js';
import { submitInstallationReport } from './installation.js';
import { getModuleRecord, getVehicleModuleRecord, listAuditLog } from './lookups.js';
import { createRegistrationNonce, decommissionModule, registerModule } from './modules.js';
import type { ApiRoute } from './route.js';
import { getHealth, getOpenApiDocument } from './service.js';
import { approveStation, listStations, registerStation, revokeStation } from './stations.js';
import { getVehicleEligibility, getVehicleOrder, putVehicleOrder } from './vehicles.js';

export * from './auth.js';
export * from './enums.js';
export * from './errors.js';
export * from './firmware.js';
export * from './formats.js';
export * from './grants.js';
export * from './installation.js';
export * from './lookups.js';
export * from './modules.js';
export * from './roles.js';
export * from './route.js';
export * from './service.js';
export * from './stations.js';
export * from './vehicles.js';

/** Every route of the contract. */
export const API_ROUTES = {
  getHealth,
  getOpenApiDocument,
  getVehicleOrder,
  putVehicleOrder,
  getVehicleEligibility,
  listFirmwareImages,
  downloadFirmwareImage,
  publishFirmwareImage,
  login,
  logout,
  changePassword,
  getMe,
  registerStation,
  listStations,
  approveStation,
  revokeStation,
  createRegistrationNonce,
  registerModule,
  decommissionModule,
  issueWorkshopTestKey,
  issueServiceAuthorization,
  submitInstallationReport,
  getModuleRecord,
  getVehicleModuleRecord,
  listAuditLog,
} as const satisfies Record<string, ApiRoute>;

export const API_VERSION = '0.1.0';
