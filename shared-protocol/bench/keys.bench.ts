// Full command verification (digital key signature by the cloud, command signature by the phone,
// and every other check) per second, and how many fit in one 7.5 ms BLE connection event:
// at least 10 means verifying never delays an unlock.
import {
  CommandKind,
  HolderRole,
  Permission,
  issueDigitalKey,
  signCommand,
  verifyCommand,
  type CommandContext,
} from '../src/trust/index.js';
import { TEST_NOW_MS, trustFixtures } from '../src/trust/test-fixtures.js';

const BLE_CONNECTION_EVENT_MS = 7.5;
const REQUIRED_PER_EVENT = 10;
const MEASURE_MS = 2000;

const f = await trustFixtures();
const tokenId = new Uint8Array(16).fill(1);
const challenge = new Uint8Array(32).fill(2);
const token = await issueDigitalKey(f.cloud, {
  tokenId,
  moduleSerial: f.moduleSerial,
  role: HolderRole.DRIVER,
  ownerGeneration: 1,
  devicePublicKey: f.phone.publicKey,
  permissions: [Permission.UNLOCK],
  notBeforeMs: BigInt(TEST_NOW_MS - 1000),
  notAfterMs: BigInt(TEST_NOW_MS + 3_600_000),
  issuedAtMs: BigInt(TEST_NOW_MS - 1000),
});
// distinct commands (counters), signed up front: only verification is timed
const commands = await Promise.all(
  Array.from({ length: 256 }, (_, i) =>
    signCommand(f.phone, {
      kind: CommandKind.UNLOCK,
      moduleSerial: f.moduleSerial,
      tokenId,
      challenge,
      counter: BigInt(i + 1),
      expiresAtMs: BigInt(TEST_NOW_MS + 5000),
    }),
  ),
);
const context: CommandContext = {
  moduleSerial: f.moduleSerial,
  keyRing: f.keyRing,
  nowMs: TEST_NOW_MS,
  trustedTimeFloorMs: 0,
  ownerGeneration: 1,
  challenge: { nonce: challenge, expiresAtMs: TEST_NOW_MS + 5000 },
  lastCounter: () => undefined,
  isRevoked: () => false,
};

async function run(durationMs: number): Promise<number> {
  let count = 0;
  const start = performance.now();
  while (performance.now() - start < durationMs) {
    for (let i = 0; i < 32; i++) {
      const verdict = await verifyCommand(token, commands[count % commands.length]!, context);
      if (!verdict.ok) throw new Error(`key bench: verification failed: ${verdict.message}`);
      count++;
    }
  }
  return count / ((performance.now() - start) / 1000);
}

await run(300); // warm-up
const perSecond = await run(MEASURE_MS);
const perEvent = (perSecond * BLE_CONNECTION_EVENT_MS) / 1000;
console.log(`key-verify-per-s ${perSecond.toFixed(0)}`);
console.log(`key-verify-vs-ble-event ${perEvent.toFixed(1)}`);
if (perEvent < REQUIRED_PER_EVENT) {
  console.error(
    `only ${perEvent.toFixed(1)} verifications fit in a 7.5 ms connection event (need ${REQUIRED_PER_EVENT})`,
  );
  process.exit(1);
}
