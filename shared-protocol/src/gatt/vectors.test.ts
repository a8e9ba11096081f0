import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fromHex } from '../crypto/bytes.js';
import { decodeAdvertisement } from './advertisement.js';
import { KeyLinkReassembler } from './framing.js';
import { decodeKeyLinkMessage } from './messages.js';
import { decodeRecognitionMaterial, matchAdvertisement } from './recognition.js';
import { buildGattVectors } from './vectors.js';

const file = join(import.meta.dirname, '../../vectors/gatt.json');

describe('vectors/gatt.json', () => {
  it('equals what buildGattVectors() produces (npm run vectors -w shared-protocol rewrites it)', async () => {
    const built = JSON.parse(JSON.stringify(await buildGattVectors())) as unknown;
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual(built);
  });

  it('its chunks reassemble, its messages decode and its advertisements match', async () => {
    const vectors = await buildGattVectors();
    for (const { chunksHex, messageHex } of vectors.framing) {
      const reassembler = new KeyLinkReassembler();
      const out = chunksHex.flatMap((hex) => reassembler.push(fromHex(hex)));
      expect(out).toEqual([fromHex(messageHex)]);
    }
    for (const { hex, name } of vectors.messages) {
      expect(decodeKeyLinkMessage(fromHex(hex)).ok, name).toBe(true);
    }
    const material = decodeRecognitionMaterial(fromHex(vectors.recognition.materialHex));
    expect(material).toBeDefined();
    const [first] = vectors.advertisement.samples;
    const payload = decodeAdvertisement(fromHex(first?.advertisementHex ?? ''));
    expect(
      payload && material && matchAdvertisement(material, payload, first?.timeMs ?? 0),
    ).toEqual({
      mine: true,
      windowIndex: first?.windowIndex,
      state: first?.state,
    });
  });
});
