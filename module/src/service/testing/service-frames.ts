/**
 * fast-check arbitraries for fuzzing the module's service port (service-fuzz.test.ts): the bytes a
 * hostile or broken host could put on the line, one "unit" at a time (optional garbage, then a
 * frame, perhaps damaged), and a replica of the module's frame decoder to tell which requests a
 * unit delivers intact, so a test can exclude requests that are meant to change state and count
 * the answers it must get.
 *
 * Requests of every kind in REQUEST_KINDS (new kinds are picked up by themselves): bodies with
 * random values of the right types (from the protobuf descriptors) or plausible values (a real
 * image announcement, a real nonce length, the module's own serial...), with no, random, replayed
 * or mutated service authorizations; those re-encoded with bit flips, truncations and insertions;
 * a body under another kind's field number, wrong wire types, unknown kinds, huge lengths, random
 * bytes. Frames of every type with any seq (0, colliding, 65535), damaged on the wire (bit flips,
 * cut, delimiters lost, repeated), too long for the decoder, or pure garbage.
 */
import fc from 'fast-check';
import { ScalarType, type DescField, type DescMessage } from '@bufbuild/protobuf';
import { FrameDecoder, encodeFrame, type Frame } from '@mini-sharing/shared-protocol/framing';
import { concatBytes, toHex } from '@mini-sharing/shared-protocol/crypto';
import {
  REQUEST_KINDS,
  RequestSchema,
  buildRequest,
  decodeRequest,
  encodeRequest,
  toBinary,
  type Request,
  type RequestKind,
} from '@mini-sharing/shared-protocol/messages';
import { FrameType } from '@mini-sharing/shared-protocol/session';
import { SELF_TEST_IDS } from '@mini-sharing/shared-protocol/diagnostics';

/** Real values the plausible bodies draw on. */
export interface FuzzMaterial {
  moduleSerial: string;
  /** Encoded ServiceAuthorizationProofs whose challenges are gone: replayed and mutated. */
  proofs: Uint8Array[];
  /** An image announcement that passes every check of flash_begin (none and deflate). */
  image: {
    size: number;
    sha256: Uint8Array;
    segmentSize: number;
    segmentTransferSizes: number[];
  };
  moduleCertificate: Uint8Array;
  moduleLink: Record<string, unknown>;
}

export const ALL_KINDS = Object.keys(REQUEST_KINDS) as RequestKind[];

const BODY_FIELDS = new Map<RequestKind, DescField>(
  RequestSchema.fields
    .filter((field) => field.oneof?.name === 'body')
    .map((field) => [field.localName as RequestKind, field]),
);
/** The Request field number of each kind's body. */
export const fieldNumberOf = (kind: RequestKind): number => {
  const field = BODY_FIELDS.get(kind);
  if (!field) throw new Error(`no Request body field for ${kind}`);
  return field.number;
};
const bodySchemaOf = (kind: RequestKind): DescMessage => {
  const field = BODY_FIELDS.get(kind);
  if (field?.fieldKind !== 'message') throw new Error(`${kind} has no message body`);
  return field.message;
};
const KNOWN_FIELD_NUMBERS = new Set(RequestSchema.fields.map((field) => field.number));

// ---- raw protobuf pieces ----

export function varint(value: bigint): Uint8Array {
  const out: number[] = [];
  let rest = value;
  while (rest >= 0x80n) {
    out.push(Number(rest & 0x7fn) | 0x80);
    rest >>= 7n;
  }
  out.push(Number(rest));
  return Uint8Array.from(out);
}
const tag = (field: number, wireType: number) => varint((BigInt(field) << 3n) | BigInt(wireType));
const lengthDelimited = (field: number, bytes: Uint8Array) =>
  concatBytes(tag(field, 2), varint(BigInt(bytes.length)), bytes);

// ---- values ----

const U32_EDGES = [0, 1, 0x7f, 0x80, 0x7fffffff, 0x80000000, 0xffffffff];
const uint32 = fc.oneof(
  { weight: 3, arbitrary: fc.nat({ max: 70_000 }) },
  { weight: 1, arbitrary: fc.constantFrom(...U32_EDGES) },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 0xffffffff }) },
);
const int32 = fc.oneof(fc.integer(), fc.constantFrom(-1, 0, 1, -0x80000000, 0x7fffffff));
const uint64 = fc.oneof(
  fc.bigInt({ min: 0n, max: 100_000n }),
  fc.constantFrom(0n, 2n ** 32n, 2n ** 53n + 1n, 2n ** 63n, 2n ** 64n - 1n),
  fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
);
const int64 = fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n });
/**
 * `length` bytes from a seed (xorshift): large random contents at a fraction of what fast-check
 * takes to draw them byte by byte.
 */
export function noise(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length);
  let state = seed >>> 0 || 0x9e3779b9;
  for (let i = 0; i < length; i++) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    out[i] = state & 0xff;
  }
  return out;
}
/** Large random bytes, between min and max long. */
const largeBytes = (min: number, max: number) =>
  fc.tuple(fc.integer({ min, max }), fc.nat()).map(([length, seed]) => noise(length, seed));

const bytes = fc.oneof(
  { weight: 6, arbitrary: fc.uint8Array({ maxLength: 80 }) },
  { weight: 1, arbitrary: largeBytes(500, 9000) },
);
const string = fc.oneof(
  { weight: 4, arbitrary: fc.string({ maxLength: 40 }) },
  { weight: 2, arbitrary: fc.constantFrom(...SELF_TEST_IDS, 'MSM-24-000001-1', '', ' ', '\u0000') },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 60 }) },
  {
    weight: 1,
    arbitrary: fc
      .tuple(
        fc.string({ unit: 'binary', minLength: 1, maxLength: 20 }),
        fc.integer({ min: 20, max: 300 }),
      )
      .map(([part, times]) => part.repeat(times)),
  },
);

/** `small`: short strings and bytes only (elements of a list made huge). */
function scalar(type: ScalarType, longAsString: boolean, small = false): fc.Arbitrary<unknown> {
  const long = (arbitrary: fc.Arbitrary<bigint>) =>
    longAsString ? arbitrary.map((value) => String(value)) : arbitrary;
  switch (type) {
    case ScalarType.BOOL:
      return fc.boolean();
    case ScalarType.STRING:
      return small ? fc.string({ maxLength: 12 }) : string;
    case ScalarType.BYTES:
      return small ? fc.uint8Array({ maxLength: 12 }) : bytes;
    case ScalarType.UINT32:
    case ScalarType.FIXED32:
      return uint32;
    case ScalarType.INT32:
    case ScalarType.SINT32:
    case ScalarType.SFIXED32:
      return int32;
    case ScalarType.UINT64:
    case ScalarType.FIXED64:
      return long(uint64);
    case ScalarType.INT64:
    case ScalarType.SINT64:
    case ScalarType.SFIXED64:
      return long(int64);
    case ScalarType.FLOAT:
      return fc.float({ noDefaultInfinity: false });
    default:
      return fc.double();
  }
}

/** A message of `schema` with random values of the right type in random fields. */
export function randomMessage(schema: DescMessage, depth = 0): fc.Arbitrary<object> {
  const fields: Record<string, fc.Arbitrary<unknown>> = {};
  for (const field of schema.fields) {
    if (field.oneof) continue; // envelopes only: bodies have no oneofs
    const element = ((): fc.Arbitrary<unknown> | undefined => {
      switch (field.fieldKind) {
        case 'scalar':
          return scalar(field.scalar, field.longAsString);
        case 'enum':
          return fc.integer({ min: -2, max: 12 });
        case 'message':
          return depth < 2 ? randomMessage(field.message, depth + 1) : undefined;
        case 'list': {
          const item = (small: boolean) =>
            field.listKind === 'scalar'
              ? scalar(field.scalar, field.longAsString, small)
              : field.listKind === 'enum'
                ? fc.integer({ min: -2, max: 12 })
                : undefined;
          if (field.listKind === 'message') {
            return depth < 2
              ? fc.array(randomMessage(field.message, depth + 1), { maxLength: 4 })
              : undefined;
          }
          const few = item(false);
          const many = item(true);
          if (!few || !many) return undefined;
          return fc.oneof(
            { weight: 8, arbitrary: fc.array(few, { maxLength: 6 }) },
            {
              // a huge list (cheap to draw: a few elements repeated)
              weight: 1,
              arbitrary: fc
                .tuple(
                  fc.array(many, { minLength: 1, maxLength: 4 }),
                  fc.integer({ min: 25, max: 300 }),
                )
                .map(([items, times]) => Array.from({ length: times }, () => items).flat()),
            },
          );
        }
        default:
          return undefined; // maps: none in requests
      }
    })();
    if (element) fields[field.localName] = element;
  }
  return fc.record(fields, { requiredKeys: [] });
}

/** Values a handler would take seriously: real sizes, hashes, nonces, serials, test ids. */
function plausibleBody(kind: RequestKind, m: FuzzMaterial): fc.Arbitrary<object> {
  const { image } = m;
  switch (kind) {
    case 'hello':
      return fc.record({
        protocolMajor: fc.constantFrom(0, 1, 2, 0xffffffff),
        protocolMinor: fc.nat({ max: 5 }),
        host: string,
      });
    case 'baudChange':
      return fc.record({
        baudRate: fc.oneof(fc.constantFrom(115200, 460800, 921600, 9600, 0), uint32),
      });
    case 'flashBegin':
      return fc
        .record({
          deflate: fc.boolean(),
          resume: fc.boolean(),
          chunkSize: fc.constantFrom(0, 1, 512, 4096, 8192, 65536, 0xffffffff),
          window: fc.constantFrom(0, 1, 8, 16, 1000, 0xffffffff),
          tweak: fc.constantFrom(
            'none',
            'size',
            'sha',
            'transfer',
            'segments',
            'segmentSize',
            'compression',
          ),
          by: fc.integer({ min: -3, max: 3 }),
        })
        .map(({ deflate, resume, chunkSize, window, tweak, by }) => {
          const sizes = [...image.segmentTransferSizes];
          if (tweak === 'segments' && sizes.length > 0)
            sizes[Math.abs(by) % sizes.length] = [0, 1, 40_000, 0xffffffff][Math.abs(by)] ?? 0;
          const transferSize = sizes.reduce((sum, size) => sum + size, 0);
          const body = {
            imageSize: Math.max(0, image.size + (tweak === 'size' ? by : 0)),
            imageSha256: tweak === 'sha' ? image.sha256.subarray(0, 31 + (by & 1)) : image.sha256,
            compression: tweak === 'compression' ? 3 + by : deflate ? 2 : 1,
            transferSize: Math.min(
              0xffffffff,
              Math.max(0, (deflate ? transferSize : image.size) + (tweak === 'transfer' ? by : 0)),
            ),
            chunkSize,
            window,
            resume,
            ...(deflate
              ? {
                  segmentSize: image.segmentSize * (tweak === 'segmentSize' ? 2 ** (by + 3) : 1),
                  segmentTransferSizes: sizes,
                }
              : {}),
          };
          return body;
        });
    case 'flashData':
      return fc.record({
        offset: fc.oneof(
          fc.nat({ max: 16 }).map((n) => n * 4096),
          uint32,
        ),
        data: fc.oneof(largeBytes(0, 4096), largeBytes(8192, 16_400)),
      });
    case 'provisionBegin':
      return fc.record({ cloudNonce: fc.uint8Array({ minLength: 0, maxLength: 80 }) });
    case 'provisionCommit':
      return fc.record({
        moduleCertificate: fc.oneof(fc.constant(m.moduleCertificate), bytes),
        moduleLink: fc.constant(m.moduleLink),
      });
    case 'selfTestRun':
      return fc.record({
        testIds: fc.array(fc.constantFrom(...SELF_TEST_IDS, 'no-such-test', ''), {
          maxLength: 10,
        }),
      });
    case 'logRead':
      return fc.record({ fromSequence: uint64, maxEntries: uint32 });
    case 'factoryReset':
      return fc.record({
        confirmModuleSerial: fc.oneof(
          fc.constantFrom(m.moduleSerial, m.moduleSerial.toLowerCase(), ` ${m.moduleSerial} `),
          string,
        ),
      });
    default:
      return fc.constant({});
  }
}

/** Genuine bytes with a few bits flipped, bytes set, cut short, or extended. */
export function mutated(source: fc.Arbitrary<Uint8Array>): fc.Arbitrary<Uint8Array> {
  return fc
    .tuple(
      source,
      fc.array(
        fc.record({
          op: fc.constantFrom('flip', 'set', 'insert', 'delete'),
          at: fc.nat(),
          value: fc.nat({ max: 255 }),
        }),
        { minLength: 1, maxLength: 4 },
      ),
      fc.option(fc.nat(), { nil: undefined }),
    )
    .map(([original, edits, cut]) => {
      let out: Uint8Array = original.slice();
      for (const { op, at, value } of edits) {
        const i = out.length === 0 ? 0 : at % out.length;
        if (op === 'flip' && out.length > 0) out[i] = (out[i] as number) ^ (1 << (value & 7));
        else if (op === 'set' && out.length > 0) out[i] = value;
        else if (op === 'insert')
          out = concatBytes(out.subarray(0, i), Uint8Array.of(value), out.subarray(i));
        else if (op === 'delete') out = concatBytes(out.subarray(0, i), out.subarray(i + 1));
      }
      return cut === undefined ? out : out.slice(0, cut % (out.length + 1));
    });
}

/** The service_authorization a request carries: none, junk, or genuine ones out of place. */
function authorizationField(m: FuzzMaterial): fc.Arbitrary<Uint8Array | undefined> {
  const proof = fc.constantFrom(...m.proofs);
  return fc.oneof(
    { weight: 12, arbitrary: fc.constant(undefined) },
    { weight: 2, arbitrary: fc.uint8Array({ minLength: 1, maxLength: 200 }) },
    // a genuine proof, replayed after its challenge is gone (or never issued here)
    { weight: 1, arbitrary: proof },
    { weight: 1, arbitrary: mutated(proof) },
  );
}

/** A well-formed Request of any kind with random or plausible contents. */
export function typedRequest(m: FuzzMaterial): fc.Arbitrary<Request> {
  return fc
    .constantFrom(...ALL_KINDS)
    .chain((kind) =>
      fc
        .tuple(
          fc.oneof(
            { weight: 2, arbitrary: randomMessage(bodySchemaOf(kind)) },
            { weight: 3, arbitrary: plausibleBody(kind, m) },
          ),
          authorizationField(m),
        )
        .map(([value, proof]) => buildRequest(kind, value as never, proof)),
    );
}

const unknownFieldNumber = fc
  .oneof(fc.integer({ min: 2, max: 60 }), fc.integer({ min: 61, max: 2 ** 29 - 1 }))
  .filter((n) => !KNOWN_FIELD_NUMBERS.has(n) && !(n >= 19000 && n <= 19999));

/** Request payloads: typed, mutated, type-confused, unknown, huge lengths, random. */
export function requestPayload(m: FuzzMaterial): fc.Arbitrary<Uint8Array> {
  const typed = typedRequest(m).map(encodeRequest);
  const kind = fc.constantFrom(...ALL_KINDS);
  return fc.oneof(
    { weight: 30, arbitrary: typed },
    { weight: 14, arbitrary: mutated(typed) },
    {
      // one kind's body under another kind's field number
      weight: 4,
      arbitrary: fc.tuple(kind, typedRequest(m)).map(([other, request]) => {
        const own = request.body.case;
        if (!own) return encodeRequest(request);
        const body = toBinary(bodySchemaOf(own), request.body.value as never);
        const proof = request.serviceAuthorization;
        return concatBytes(
          proof.length > 0 ? lengthDelimited(1, proof) : new Uint8Array(0),
          lengthDelimited(fieldNumberOf(other), body),
        );
      }),
    },
    {
      // a known kind's field with the wrong wire type (or the authorization's)
      weight: 4,
      arbitrary: fc
        .tuple(
          fc.oneof(kind.map(fieldNumberOf), fc.constant(1)),
          fc.constantFrom(0, 1, 3, 4, 5, 6, 7),
          fc.uint8Array({ maxLength: 20 }),
        )
        .map(([field, wireType, rest]) => concatBytes(tag(field, wireType), rest)),
    },
    {
      // an unknown request kind, with a body or any wire type
      weight: 4,
      arbitrary: fc
        .tuple(unknownFieldNumber, fc.nat({ max: 7 }), fc.uint8Array({ maxLength: 40 }))
        .map(([field, wireType, rest]) =>
          wireType === 2 ? lengthDelimited(field, rest) : concatBytes(tag(field, wireType), rest),
        ),
    },
    {
      // a length far beyond the bytes that follow, outside or inside the body
      weight: 3,
      arbitrary: fc
        .tuple(
          fc.oneof(kind.map(fieldNumberOf), fc.constant(1)),
          fc.constantFrom(
            2n ** 31n,
            2n ** 32n - 1n,
            2n ** 32n,
            2n ** 35n,
            2n ** 63n,
            2n ** 64n - 1n,
          ),
          fc.boolean(),
          fc.uint8Array({ maxLength: 16 }),
        )
        .map(([field, length, nested, rest]) => {
          const inner = concatBytes(tag(1 + (rest.length & 3), 2), varint(length), rest);
          return nested
            ? lengthDelimited(field, inner)
            : concatBytes(tag(field, 2), varint(length), rest);
        }),
    },
    { weight: 3, arbitrary: fc.uint8Array({ maxLength: 120 }) },
  );
}

/** Encodes a frame whatever its size: one beyond the receiver's maximum is for it to drop. */
const frameOf = (type: number, s: number, payload: Uint8Array) =>
  encodeFrame({ type, seq: s, payload: payload.subarray(0, 40_000) }, { maxFrameSize: 1 << 16 });

/** Sequence numbers: 0 (never used), colliding ones, the top one, any. */
const seq = fc.oneof(
  { weight: 1, arbitrary: fc.constantFrom(0, 0xffff) },
  { weight: 3, arbitrary: fc.integer({ min: 1, max: 8 }) },
  { weight: 6, arbitrary: fc.nat({ max: 0xffff }) },
);

/** What one unit puts on the line: garbage (perhaps none), then one frame in some state. */
export function lineUnit(m: FuzzMaterial): fc.Arbitrary<Uint8Array> {
  const payload = requestPayload(m);
  const frame = fc.oneof(
    {
      weight: 40,
      arbitrary: fc.tuple(payload, seq).map(([bytes, s]) => [frameOf(FrameType.Request, s, bytes)]),
    },
    {
      // other frame types: a host's CANCEL, things only a module sends, types from the future
      weight: 4,
      arbitrary: fc
        .tuple(
          fc.constantFrom(FrameType.Response, FrameType.Event, FrameType.Cancel, 0, 5, 0xff),
          fc.oneof(payload, fc.constant(new Uint8Array(0))),
          seq,
        )
        .map(([type, bytes, s]) => [frameOf(type, s, bytes)]),
    },
    {
      // the same request twice: a retransmission (answered once, or again from the cache)
      weight: 2,
      arbitrary: fc.tuple(payload, seq).map(([bytes, s]) => {
        const encoded = frameOf(FrameType.Request, s, bytes);
        return [encoded, encoded];
      }),
    },
    {
      // damaged on the wire: bit flips, cut short, delimiters lost, CRC or COBS broken
      weight: 10,
      arbitrary: mutated(
        fc.tuple(payload, seq).map(([bytes, s]) => frameOf(FrameType.Request, s, bytes)),
      ).map((bytes) => [bytes]),
    },
    {
      // too long for the decoder (it must drop it without buffering), or exactly the maximum
      weight: 1,
      arbitrary: fc
        .tuple(largeBytes(16_370, 17_000), seq)
        .map(([payload, s]) => [frameOf(FrameType.Request, s, payload)]),
    },
    { weight: 3, arbitrary: fc.uint8Array({ minLength: 1, maxLength: 300 }).map((b) => [b]) },
  );
  const garbage = fc.oneof(
    { weight: 8, arbitrary: fc.constant(new Uint8Array(0)) },
    { weight: 1, arbitrary: fc.uint8Array({ minLength: 1, maxLength: 64 }) },
    {
      weight: 1,
      arbitrary: fc.uint8Array({ minLength: 1, maxLength: 64 }).map((b) => b.map((v) => v || 1)),
    },
  );
  // A delimiter after the garbage and after the frame: whatever a unit does to the decoder ends
  // with it, so each unit's outcome can be told on its own (deliveredFrames).
  return fc
    .tuple(garbage, frame)
    .map(([junk, frames]) => concatBytes(junk, Uint8Array.of(0), ...frames, Uint8Array.of(0)));
}

/** The frames a unit delivers to a receiver that starts it just after a delimiter. */
export function deliveredFrames(unit: Uint8Array): Frame[] {
  return new FrameDecoder().push(unit);
}

/** The requests a unit delivers intact, decoded (undecodable ones are left out). */
export function deliveredRequests(unit: Uint8Array): Array<{ frame: Frame; request?: Request }> {
  return deliveredFrames(unit)
    .filter((frame) => frame.type === FrameType.Request)
    .map((frame) => {
      const decoded = decodeRequest(frame.payload);
      return decoded.ok ? { frame, request: decoded.message } : { frame };
    });
}

/** A key per distinct request (seq and payload): the module answers each at least once. */
export const requestKey = (frame: Frame): string => `${frame.seq}:${toHex(frame.payload)}`;
