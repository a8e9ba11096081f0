/**
 * A presented key and a signed command, from bytes to the car: shared-protocol's verifiers first
 * (in PROTOCOL.md's order), then the module's rules (access-policy.ts), then the counter stored
 * durably, then the actuation. Every refusal carries its reason back and into the module log;
 * nothing actuates on a refusal.
 */
import { toHex } from '@mini-sharing/shared-protocol/crypto';
import {
  CommandKind,
  HolderRole,
  decodeDigitalKeyUnverified,
  verifyCommand,
  verifyDigitalKey,
  type CommandReason,
  type DigitalKey,
  type DigitalKeyContext,
} from '@mini-sharing/shared-protocol/trust';
import { isHalError, type VehicleState } from '../hal/index.js';
import {
  ResultCode,
  refusal,
  type AccessReason,
  type AccessRefusal,
  type CarStateView,
} from './access-events.js';
import {
  accessEndsAtMs,
  accessReasonFor,
  commandPolicyRefusal,
  keyPolicyRefusal,
  type PolicyFacts,
} from './access-policy.js';
import { pruneAccessState, type AccessState } from './access-state.js';
import { carStateOf, type AccessCore } from './access-core.js';
import type { BookingLifecycle } from './booking-lifecycle.js';

export type KeyAccepted = { ok: true; key: DigitalKey; accessEndsAtMs: number };
export type CommandAccepted = {
  ok: true;
  key: DigitalKey;
  kind: CommandKind;
  carState: CarStateView;
};
export type CommandRefused = AccessRefusal & { carState?: CarStateView };

/** The challenge a command must answer, as the key link session issued it. */
export interface IssuedChallenge {
  nonce: Uint8Array;
  /** Module clock time after which a command answering it is refused. */
  expiresAtMs: number;
}

export class KeyChecks {
  constructor(
    private readonly core: AccessCore,
    private readonly bookings: BookingLifecycle,
  ) {}

  /** A `present_token`: the key on its own. Accepting it changes nothing but the time floor. */
  presentKey(tokenBytes: Uint8Array): Promise<KeyAccepted | AccessRefusal> {
    return this.core.exclusive(async () => {
      const nowMs = this.core.now();
      const ignitionOn = await this.#ignitionIfDrivenPastNotAfter(nowMs);
      const verdict = await verifyDigitalKey(tokenBytes, this.#keyContext(nowMs, ignitionOn));
      if (!verdict.ok) {
        const peeked = decodeDigitalKeyUnverified(tokenBytes);
        return this.#refuse(peeked, 'key', nowMs, verifierRefusal(verdict, peeked));
      }
      const key = verdict.value;
      const policy = keyPolicyRefusal(key, this.#facts(key, nowMs, ignitionOn));
      if (policy) return this.#refuse(key, 'key', nowMs, policy);
      if (floorRaisedBy(key, nowMs) > this.core.state.trustedTimeFloorMs) {
        await this.core.commit((state) => raiseFloorIn(state, key, nowMs));
      }
      return { ok: true, key, accessEndsAtMs: accessEndsAtMs(key) };
    });
  }

  /**
   * A signed command under a token, answering `challenge` (the session's current one; the session
   * consumes it whatever the outcome). Verifies, applies the rules, stores the counter, actuates.
   */
  executeCommand(
    tokenBytes: Uint8Array,
    commandBytes: Uint8Array,
    challenge: IssuedChallenge,
  ): Promise<CommandAccepted | CommandRefused> {
    return this.core.exclusive(async () => {
      const nowMs = this.core.now();
      const ignitionOn = await this.#ignitionIfDrivenPastNotAfter(nowMs);
      const verdict = await verifyCommand(tokenBytes, commandBytes, {
        ...this.#keyContext(nowMs, ignitionOn),
        challenge,
        lastCounter: (tokenId) => this.#lastCounter(toHex(tokenId)),
      });
      if (!verdict.ok) {
        const peeked = decodeDigitalKeyUnverified(tokenBytes);
        return this.#refuse(peeked, 'command', nowMs, verifierRefusal(verdict, peeked));
      }
      const { key, command } = verdict.value;
      // The ignition matters only for END and for a key whose booking ended (still driving?):
      // only then is the car asked first, saving a bus round trip on every other command.
      let facts = this.#facts(key, nowMs, ignitionOn);
      let before: VehicleState | undefined;
      if (ignitionOn === undefined && (command.kind === CommandKind.END || facts.bookingEnded)) {
        before = await this.core.readVehicleState();
        facts = this.#facts(key, nowMs, before && before.ignition === 'on');
      }
      const policy = commandPolicyRefusal(key, command.kind, facts);
      // The command is genuine: its counter is used up whether the rules let it act or not, and
      // it is durable before anything moves.
      await this.core.commit((state) => {
        storeCounterIn(state, key, command.counter);
        raiseFloorIn(state, key, nowMs);
        return policy ? [] : this.bookings.noteKeyUseIn(state, key, nowMs);
      });
      this.bookings.reschedule();
      if (policy) {
        return this.#refuse(key, command.kind, nowMs, policy, before && carStateOf(before));
      }
      const acted = await this.#actuate(key, command.kind, nowMs);
      if (!acted.ok) return this.#refuse(key, command.kind, nowMs, acted, acted.carState);
      this.#keyUsed(key, command.kind, nowMs, 'ok', ResultCode.OK);
      this.core.log(
        'info',
        `${CommandKind[command.kind]} by ${HolderRole[key.role]} key ${toHex(key.tokenId)}: done`,
      );
      return { ok: true, key, kind: command.kind, carState: acted.carState };
    });
  }

  #keyContext(nowMs: number, ignitionOn: boolean | undefined): DigitalKeyContext {
    const drive = this.core.state.currentDrive;
    return {
      moduleSerial: this.core.deps.moduleSerial,
      keyRing: this.core.keyRing,
      nowMs,
      trustedTimeFloorMs: this.core.state.trustedTimeFloorMs,
      ownerGeneration: this.core.state.ownerGeneration,
      isRevoked: (tokenId) => this.core.isRevoked(tokenId),
      // A drive in progress under this key goes on past its notAfter (never stop a driven car).
      allowPastNotAfter: (key) => drive?.tokenId === toHex(key.tokenId) && ignitionOn === true,
    };
  }

  #facts(key: DigitalKey, nowMs: number, ignitionOn: boolean | undefined): PolicyFacts {
    const tokenId = toHex(key.tokenId);
    return {
      nowMs,
      ignitionOn,
      drivingUnderThisKey: this.core.state.currentDrive?.tokenId === tokenId,
      bookingEnded: this.core.state.endedBookings.some((entry) => entry.tokenId === tokenId),
    };
  }

  /** Reads the ignition only when a drive is past its key's notAfter: the one case it matters. */
  async #ignitionIfDrivenPastNotAfter(nowMs: number): Promise<boolean | undefined> {
    const drive = this.core.state.currentDrive;
    if (!drive || nowMs <= drive.notAfterMs) return undefined;
    const state = await this.core.readVehicleState();
    return state && state.ignition === 'on';
  }

  async #actuate(
    key: DigitalKey,
    kind: CommandKind,
    nowMs: number,
  ): Promise<{ ok: true; carState: CarStateView } | CommandRefused> {
    const vehicle = this.core.deps.vehicle;
    try {
      switch (kind) {
        case CommandKind.UNLOCK:
          return { ok: true, carState: carStateOf(await vehicle.unlock()) };
        case CommandKind.LOCK:
          return { ok: true, carState: carStateOf(await vehicle.lock()) };
        case CommandKind.ENABLE_DRIVE: {
          const state = await vehicle.releaseImmobilizer();
          await this.bookings.driveEnabled(key, nowMs, state.ignition === 'on');
          return { ok: true, carState: carStateOf(state) };
        }
        case CommandKind.END: {
          await vehicle.lock();
          const state = await vehicle.engageImmobilizer();
          await this.bookings.useEnded();
          return { ok: true, carState: carStateOf(state) };
        }
        default:
          return refusal('unsupported', `${CommandKind[kind]} is not served over the key link`);
      }
    } catch (error) {
      const after = await this.core.readVehicleState();
      const carState = after && carStateOf(after);
      const refused = isHalError(error, 'doors-open')
        ? refusal('doors-open', `Close ${openingsOf(error.details)} first`)
        : refusal('vehicle-not-responding', `The car did not carry it out: ${String(error)}`);
      return carState ? { ...refused, carState } : refused;
    }
  }

  /** `command`: the command refused, or what was refused before one decoded. */
  #refuse(
    key: DigitalKey | undefined,
    command: CommandKind | 'key' | 'command',
    nowMs: number,
    why: { reason: AccessReason; message: string },
    carState?: CarStateView,
  ): CommandRefused {
    const refused = refusal(why.reason, why.message);
    const kind = typeof command === 'string' ? CommandKind.UNSPECIFIED : command;
    this.#keyUsed(key, kind, nowMs, why.reason, refused.code);
    const what = typeof command === 'string' ? command : CommandKind[command];
    const whose = key ? ` (${HolderRole[key.role] ?? key.role} key ${toHex(key.tokenId)})` : '';
    this.core.log('warn', `refused ${what}${whose}: ${why.reason}: ${why.message}`);
    return carState ? { ...refused, carState } : refused;
  }

  #keyUsed(
    key: DigitalKey | undefined,
    command: CommandKind,
    timeMs: number,
    result: 'ok' | AccessReason,
    code: ResultCode,
  ): void {
    this.core.emit({
      type: 'key-used',
      tokenId: key?.tokenId ?? new Uint8Array(0),
      bookingId: key?.bookingId ?? '',
      role: key?.role ?? HolderRole.UNSPECIFIED,
      command,
      timeMs,
      result,
      code,
    });
  }

  #lastCounter(tokenIdHex: string): bigint | undefined {
    const entry = this.core.state.counters.find((counter) => counter.tokenId === tokenIdHex);
    return entry && BigInt(entry.counter);
  }
}

/** A verifier's refusal in the module's words (an overdue driver's key: access ended). */
function verifierRefusal(
  verdict: { reason: CommandReason; message: string },
  peeked: DigitalKey | undefined,
): { reason: AccessReason; message: string } {
  const reason = accessReasonFor(verdict.reason, peeked);
  if (reason !== 'access-ended') return verdict;
  return {
    reason,
    message: `Bluetooth access ended: the booking is over by more than 30 minutes and the car is parked (${verdict.message})`,
  };
}

const openingsOf = (details: Readonly<Record<string, unknown>>): string => {
  const open = details.openDoors;
  return Array.isArray(open) && open.length > 0 ? open.join(', ') : 'every opening';
};

function storeCounterIn(state: AccessState, key: DigitalKey, counter: bigint): void {
  const tokenId = toHex(key.tokenId);
  state.counters = state.counters.filter((entry) => entry.tokenId !== tokenId);
  state.counters.push({ tokenId, counter: counter.toString(), notAfterMs: Number(key.notAfterMs) });
}

/**
 * A valid key proves time has reached its issue time. Never past the module's own clock: a clock
 * a little slow would otherwise shut every key out until it caught up.
 */
const floorRaisedBy = (key: DigitalKey, nowMs: number): number =>
  Math.min(Number(key.issuedAtMs), nowMs);

function raiseFloorIn(state: AccessState, key: DigitalKey, nowMs: number): void {
  state.trustedTimeFloorMs = Math.max(state.trustedTimeFloorMs, floorRaisedBy(key, nowMs));
  pruneAccessState(state);
}
