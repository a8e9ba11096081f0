import { describe, expect, it } from 'vitest';
import { PowerCut } from './power-cut.js';
import { SimulatedFlash } from './simulated-flash.js';

const bytes = (...values: number[]) => Uint8Array.from(values);

async function flashWithDir(): Promise<SimulatedFlash> {
  const flash = new SimulatedFlash();
  await flash.mkdirs('/f');
  return flash;
}

describe('SimulatedFlash', () => {
  it('keeps only synced data and synced entries when nothing else was written back', async () => {
    const flash = await flashWithDir();
    const kept = await flash.open('/f/kept', 'update');
    await kept.write(0, bytes(1, 2, 3));
    await kept.sync();
    await flash.syncDir('/f');
    await kept.write(3, bytes(4)); // never synced
    const lost = await flash.open('/f/lost', 'update'); // entry never synced
    await lost.write(0, bytes(9));
    await lost.sync();

    const after = flash.powerCut({ kind: 'synced-only' });
    expect(await after.readdir('/f')).toEqual(['kept']);
    expect(after.peek('/f/kept')).toEqual(bytes(1, 2, 3));
  });

  it('keeps everything under the "everything" outcome', async () => {
    const flash = await flashWithDir();
    const file = await flash.open('/f/a', 'update');
    await file.write(0, bytes(7, 8));
    await flash.rename('/f/a', '/f/b');
    const after = flash.powerCut({ kind: 'everything' });
    expect(await after.readdir('/f')).toEqual(['b']);
    expect(after.peek('/f/b')).toEqual(bytes(7, 8));
  });

  it('tears unsynced writes reproducibly from a seed, and never synced ones', async () => {
    const outcomes = new Set<string>();
    for (let seed = 0; seed < 40; seed++) {
      const flash = await flashWithDir();
      const file = await flash.open('/f/a', 'update');
      await file.write(0, new Uint8Array(16).fill(1));
      await file.sync();
      await flash.syncDir('/f');
      await file.write(0, new Uint8Array(16).fill(2));
      const twin = flash.clone();
      const after = flash.powerCut({ kind: 'torn', seed });
      const again = twin.powerCut({ kind: 'torn', seed });
      expect(after.peek('/f/a')).toEqual(again.peek('/f/a'));
      outcomes.add(Buffer.from(after.peek('/f/a') ?? []).toString('hex'));
    }
    expect(outcomes.has('01'.repeat(16))).toBe(true);
    expect(outcomes.has('02'.repeat(16))).toBe(true);
    expect(outcomes.size).toBeGreaterThan(2); // and torn mixtures in between
  });

  it('is dead after the cut, and a clone evolves on its own', async () => {
    const flash = await flashWithDir();
    const twin = flash.clone();
    await (await twin.open('/f/only-in-twin', 'update')).sync();
    expect(await flash.readdir('/f')).toEqual([]);
    flash.powerCut();
    await expect(flash.readdir('/f')).rejects.toBeInstanceOf(PowerCut);
  });

  it('reports a missing file as ENOENT', async () => {
    const flash = await flashWithDir();
    await expect(flash.open('/f/none', 'read')).rejects.toMatchObject({ code: 'ENOENT' });
    await expect(flash.unlink('/f/none')).rejects.toMatchObject({ code: 'ENOENT' });
  });
});
