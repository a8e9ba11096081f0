/**
 * Test vectors for the module link (vectors/link.json), built deterministically from fixed seeds
 * (Ed25519 signatures are deterministic) so another implementation can check topics, envelopes and
 * signatures byte for byte. vectors.test.ts asserts the committed JSON equals what this builds.
 */
import { fromBinary, toJson, type JsonValue } from '@bufbuild/protobuf';
import { toHex, utf8 } from '../crypto/bytes.js';
import { seedSigner } from '../crypto/ed25519.js';
import { sha256 } from '../crypto/hash.js';
import { decodeSigned } from '../trust/signed.js';
import { signCloudEnvelope, signModuleEnvelope } from './envelopes.js';
import {
  CLOUD_BODY_TOPIC,
  CloudEnvelopeSchema,
  MODULE_BODY_TOPIC,
  ModuleEnvelopeSchema,
} from './payloads.js';
import {
  MODULE_TOPICS,
  moduleMayPublish,
  moduleMaySubscribe,
  moduleTopic,
  type ModuleTopicKind,
} from './topics.js';
import { sampleBodies } from './vector-samples.js';

const testBytes = (label: string): Uint8Array => sha256(utf8(`mini-sharing/test-vector/${label}`));

const SERIAL = 'MSM-TEST-0001';

interface EnvelopeVector {
  name: string;
  topic: string;
  retained: boolean;
  /** The envelope (the Signed body) in protobuf JSON. */
  envelope: JsonValue;
  /** The MQTT payload: the encoded mini.trust.v1.Signed. */
  payloadHex: string;
}

export interface LinkVectors {
  description: string;
  moduleSerial: string;
  keys: Record<
    'cloudSigningKey' | 'moduleIdentityKey',
    Record<'seedHex' | 'publicKeyHex' | 'keyIdHex', string>
  >;
  topics: Array<{
    kind: ModuleTopicKind;
    topic: string;
    direction: string;
    retained: boolean;
    qos: number;
  }>;
  acl: Array<{ action: 'publish' | 'subscribe'; serial: string; topic: string; allowed: boolean }>;
  cloudEnvelopes: EnvelopeVector[];
  moduleEnvelopes: EnvelopeVector[];
}

const ACL_CASES: Array<{ action: 'publish' | 'subscribe'; topic: string }> = [
  { action: 'publish', topic: `mini/v1/modules/${SERIAL}/telemetry` },
  { action: 'publish', topic: `mini/v1/modules/${SERIAL}/presence` },
  { action: 'publish', topic: `mini/v1/modules/${SERIAL}/commands` },
  { action: 'publish', topic: 'mini/v1/modules/MSM-TEST-0002/telemetry' },
  { action: 'publish', topic: `mini/v1/modules/${SERIAL}/telemetry/extra` },
  { action: 'subscribe', topic: `mini/v1/modules/${SERIAL}/commands` },
  { action: 'subscribe', topic: `mini/v1/modules/${SERIAL}/state/+` },
  { action: 'subscribe', topic: `mini/v1/modules/${SERIAL}/state/#` },
  { action: 'subscribe', topic: `mini/v1/modules/${SERIAL}/#` },
  { action: 'subscribe', topic: `mini/v1/modules/${SERIAL}/telemetry` },
  { action: 'subscribe', topic: 'mini/v1/modules/+/commands' },
  { action: 'subscribe', topic: 'mini/v1/modules/MSM-TEST-0002/commands' },
  { action: 'subscribe', topic: '#' },
  { action: 'subscribe', topic: `$share/g/mini/v1/modules/${SERIAL}/commands` },
];

function keyVector(label: string) {
  const seed = testBytes(label);
  const signer = seedSigner(seed);
  return {
    signer,
    json: {
      seedHex: toHex(seed),
      publicKeyHex: toHex(signer.publicKey),
      keyIdHex: toHex(signer.keyId),
    },
  };
}

export async function buildLinkVectors(): Promise<LinkVectors> {
  const cloud = keyVector('cloud-signing-key');
  const module = keyVector('module-identity-key');

  const { cloudBodies, moduleBodies } = await sampleBodies(testBytes, cloud.signer);

  const cloudEnvelopes: EnvelopeVector[] = [];
  for (const { name, at, lifetime, body } of cloudBodies) {
    const payload = await signCloudEnvelope(
      {
        id: testBytes(`cloud-envelope/${name}`).slice(0, 16),
        moduleSerial: SERIAL,
        issuedAtMs: at,
        expiresAtMs: at + lifetime,
        body,
      },
      cloud.signer,
    );
    const kind = CLOUD_BODY_TOPIC[body.case];
    cloudEnvelopes.push(envelopeVector(name, kind, payload, 'cloud'));
  }
  const moduleEnvelopes: EnvelopeVector[] = [];
  for (const { name, at, body } of moduleBodies) {
    const payload = await signModuleEnvelope(
      {
        id: testBytes(`module-envelope/${name}`).slice(0, 16),
        moduleSerial: SERIAL,
        timeMs: at,
        body,
      },
      module.signer,
    );
    moduleEnvelopes.push(envelopeVector(name, MODULE_BODY_TOPIC[body.case], payload, 'module'));
  }

  return {
    description:
      'Module link (MQTT) test vectors: see PROTOCOL.md "The module link (MQTT)". Built by buildLinkVectors() in src/link/vectors.ts from fixed test seeds (never real keys); certificate and revocation list bytes are opaque signed placeholders.',
    moduleSerial: SERIAL,
    keys: { cloudSigningKey: cloud.json, moduleIdentityKey: module.json },
    topics: (Object.keys(MODULE_TOPICS) as ModuleTopicKind[]).map((kind) => ({
      kind,
      topic: moduleTopic(SERIAL, kind),
      direction: MODULE_TOPICS[kind].direction,
      retained: MODULE_TOPICS[kind].retained,
      qos: MODULE_TOPICS[kind].qos,
    })),
    acl: ACL_CASES.map(({ action, topic }) => ({
      action,
      serial: SERIAL,
      topic,
      allowed:
        action === 'publish' ? moduleMayPublish(SERIAL, topic) : moduleMaySubscribe(SERIAL, topic),
    })),
    cloudEnvelopes,
    moduleEnvelopes,
  };
}

function envelopeVector(
  name: string,
  kind: ModuleTopicKind,
  payload: Uint8Array,
  from: 'cloud' | 'module',
): EnvelopeVector {
  const body = (decodeSigned(payload) as { body: Uint8Array }).body;
  const envelope =
    from === 'cloud'
      ? toJson(CloudEnvelopeSchema, fromBinary(CloudEnvelopeSchema, body))
      : toJson(ModuleEnvelopeSchema, fromBinary(ModuleEnvelopeSchema, body));
  return {
    name,
    topic: moduleTopic(SERIAL, kind),
    retained: MODULE_TOPICS[kind].retained,
    envelope,
    payloadHex: toHex(payload),
  };
}
