/**
 * Module-link settings: what provisioning writes into the module so it can reach the cloud over
 * MQTT and trust the cloud's keys. Validated here because they cross the service link.
 */
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import {
  ModuleLinkSettingsSchema,
  type ModuleLinkSettings,
} from '../messages/gen/mini/trust/v1/formats_pb.js';
import { CloudKeyRing } from './key-ring.js';
import { decodeBody } from './signed.js';
import { accept, refuse, type Verdict } from './verdict.js';

export type { ModuleLinkSettings };

const BROKER_SCHEMES = new Set(['mqtt:', 'mqtts:', 'ws:', 'wss:']);

export const encodeModuleLinkSettings = (
  fields: Omit<ModuleLinkSettings, '$typeName' | '$unknown'>,
): Uint8Array => toBinary(ModuleLinkSettingsSchema, create(ModuleLinkSettingsSchema, fields));

export type ModuleLinkSettingsReason =
  | 'malformed'
  | 'bad-broker-url'
  | 'wrong-client-id'
  | 'bad-advertising-secret'
  | 'no-valid-cloud-key';

/** Never throws. The client id must be the module serial; at least one cloud key must verify. */
export async function verifyModuleLinkSettings(
  bytes: Uint8Array,
  context: { moduleSerial: string; rootPublicKey: Uint8Array },
): Promise<
  Verdict<{ settings: ModuleLinkSettings; keyRing: CloudKeyRing }, ModuleLinkSettingsReason>
> {
  const settings = decodeBody(() => fromBinary(ModuleLinkSettingsSchema, bytes));
  if (!settings) return refuse('malformed', 'The module-link settings do not decode');
  let url: URL | undefined;
  try {
    url = new URL(settings.brokerUrl);
  } catch {
    url = undefined;
  }
  if (!url || !BROKER_SCHEMES.has(url.protocol) || !url.hostname) {
    return refuse(
      'bad-broker-url',
      `Broker URL "${settings.brokerUrl}" is not an mqtt://, mqtts://, ws:// or wss:// address`,
    );
  }
  if (settings.clientId !== context.moduleSerial) {
    return refuse(
      'wrong-client-id',
      `The MQTT client id must be the module serial ${context.moduleSerial}`,
    );
  }
  if (settings.advertisingSecret.length !== 32) {
    return refuse('bad-advertising-secret', 'The advertising secret must be 32 bytes');
  }
  const { ring } = await CloudKeyRing.fromCertificates(
    context.rootPublicKey,
    settings.cloudSigningKeys,
  );
  if (ring.signingKeys.length === 0) {
    return refuse(
      'no-valid-cloud-key',
      'None of the cloud signing keys is certified by the pinned root key',
    );
  }
  return accept({ settings, keyRing: ring });
}
