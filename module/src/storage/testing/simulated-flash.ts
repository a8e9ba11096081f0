/**
 * An in-memory FileOps that remembers what a power cut would keep. Each file has the bytes reads
 * see (volatile) and the bytes last synced (durable); each directory has its live entries and the
 * entries as of its last sync. powerCut() returns a new flash holding only what survives, so a
 * store that acknowledged something before syncing it is caught.
 *
 * What survives unsynced changes is chosen by an outcome:
 *   'synced-only'  nothing unsynced survives (the cut came before any writeback);
 *   'everything'   all of it survives (writeback completed just before the cut);
 *   'torn'         a random prefix of each file's and each directory's pending changes survives,
 *                  the next file write partly, with garbage where it was cut (seeded, replayable).
 * Directory changes are kept in order (as a journaling filesystem commits metadata) and each one
 * whole: a rename is atomic. Directories themselves are created durably, since stores create
 * theirs once at open. Renames stay within one directory, as the stores only do that.
 */
import { basename, dirname } from 'node:path';
import type { FileOps, OpenMode, StorageFile } from '../file-ops.js';
import { PowerCut } from './power-cut.js';

export type PowerCutOutcome =
  | { readonly kind: 'synced-only' }
  | { readonly kind: 'everything' }
  | { readonly kind: 'torn'; readonly seed: number };

type FileChange =
  | { readonly kind: 'write'; readonly position: number; readonly bytes: Uint8Array }
  | { readonly kind: 'truncate'; readonly length: number };

/** One atomic directory change: entries set to a file, or removed. */
type EntryChange = ReadonlyArray<readonly [name: string, file: Inode | undefined]>;

class Inode {
  pending: FileChange[] = [];
  constructor(
    public data: Uint8Array,
    public durable: Uint8Array,
  ) {}
}

class Directory {
  pending: EntryChange[] = [];
  constructor(
    public entries: Map<string, Inode>,
    public durable: Map<string, Inode>,
  ) {}

  change(change: EntryChange): void {
    applyEntryChange(this.entries, change);
    this.pending.push(change);
  }
}

function applyEntryChange(entries: Map<string, Inode>, change: EntryChange): void {
  for (const [name, file] of change) {
    if (file === undefined) entries.delete(name);
    else entries.set(name, file);
  }
}

function applyFileChange(data: Uint8Array, change: FileChange): Uint8Array {
  if (change.kind === 'truncate') {
    const out = new Uint8Array(change.length);
    out.set(data.subarray(0, change.length));
    return out;
  }
  const end = change.position + change.bytes.length;
  const out = new Uint8Array(Math.max(data.length, end));
  out.set(data);
  out.set(change.bytes, change.position);
  return out;
}

/** mulberry32: replayable from the seed, which is all fault injection needs. */
function seededRandom(seed: number): (below: number) => number {
  let state = seed >>> 0;
  return (below) => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = Math.imul(state ^ (state >>> 15), state | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return Math.floor((((t ^ (t >>> 14)) >>> 0) / 4294967296) * below);
  };
}

const notFound = (path: string): Error =>
  Object.assign(new Error(`ENOENT: no such file: ${path}`), { code: 'ENOENT' });

export class SimulatedFlash implements FileOps {
  private readonly dirs = new Map<string, Directory>();
  private dead = false;

  private alive(): void {
    if (this.dead) throw new PowerCut('this flash lost power');
  }

  private dir(path: string): Directory {
    const found = this.dirs.get(path);
    if (!found) throw notFound(path);
    return found;
  }

  /** The file at `path`, if any (for tests that damage files on purpose). */
  private inode(path: string): Inode | undefined {
    return this.dir(dirname(path)).entries.get(basename(path));
  }

  async open(path: string, mode: OpenMode): Promise<StorageFile> {
    this.alive();
    const dir = this.dir(dirname(path));
    let inode = dir.entries.get(basename(path));
    if (!inode) {
      if (mode === 'read') throw notFound(path);
      inode = new Inode(new Uint8Array(0), new Uint8Array(0));
      dir.change([[basename(path), inode]]);
    } else if (mode === 'replace') {
      this.changeFile(inode, { kind: 'truncate', length: 0 });
    }
    return this.handle(inode);
  }

  private changeFile(inode: Inode, change: FileChange): void {
    inode.data = applyFileChange(inode.data, change);
    inode.pending.push(change);
  }

  private handle(inode: Inode): StorageFile {
    let open = true;
    const usable = (): void => {
      this.alive();
      if (!open) throw new Error('file is closed');
    };
    return {
      read: async (position, length) => {
        usable();
        return inode.data.slice(position, position + length);
      },
      write: async (position, bytes) => {
        usable();
        this.changeFile(inode, { kind: 'write', position, bytes: bytes.slice() });
      },
      sync: async () => {
        usable();
        inode.durable = inode.data.slice();
        inode.pending = [];
      },
      truncate: async (length) => {
        usable();
        this.changeFile(inode, { kind: 'truncate', length });
      },
      size: async () => {
        usable();
        return inode.data.length;
      },
      close: async () => {
        open = false;
      },
    };
  }

  async readdir(dir: string): Promise<string[]> {
    this.alive();
    return [...this.dir(dir).entries.keys()];
  }

  async mkdirs(dir: string): Promise<void> {
    this.alive();
    for (let path = dir; !this.dirs.has(path); path = dirname(path)) {
      this.dirs.set(path, new Directory(new Map(), new Map()));
      if (dirname(path) === path) break;
    }
  }

  async rename(from: string, to: string): Promise<void> {
    this.alive();
    if (dirname(from) !== dirname(to))
      throw new Error('simulated flash renames within a directory');
    const dir = this.dir(dirname(from));
    const inode = dir.entries.get(basename(from));
    if (!inode) throw notFound(from);
    dir.change([
      [basename(from), undefined],
      [basename(to), inode],
    ]);
  }

  async unlink(path: string): Promise<void> {
    this.alive();
    const dir = this.dir(dirname(path));
    if (!dir.entries.has(basename(path))) throw notFound(path);
    dir.change([[basename(path), undefined]]);
  }

  async syncDir(dir: string): Promise<void> {
    this.alive();
    const directory = this.dir(dir);
    directory.durable = new Map(directory.entries);
    directory.pending = [];
  }

  /** The flash after the power comes back; this instance is dead from now on. */
  powerCut(outcome: PowerCutOutcome = { kind: 'synced-only' }): SimulatedFlash {
    this.dead = true;
    const random = outcome.kind === 'torn' ? seededRandom(outcome.seed) : undefined;
    const kept = (pending: number): number =>
      random ? random(pending + 1) : outcome.kind === 'everything' ? pending : 0;
    const after = new SimulatedFlash();
    const survivors = new Map<Inode, Inode>(); // a file keeps one identity under several names
    for (const [path, dir] of this.dirs) {
      const entries = new Map(dir.durable);
      for (const change of dir.pending.slice(0, kept(dir.pending.length))) {
        applyEntryChange(entries, change);
      }
      const revived = new Map<string, Inode>();
      for (const [name, inode] of entries) {
        let survivor = survivors.get(inode);
        if (!survivor) {
          const data = surviving(inode, kept(inode.pending.length), random);
          survivor = new Inode(data, data.slice());
          survivors.set(inode, survivor);
        }
        revived.set(name, survivor);
      }
      after.dirs.set(path, new Directory(revived, new Map(revived)));
    }
    return after;
  }

  /** A copy with the same volatile and durable state, to run many cuts from one starting point. */
  clone(): SimulatedFlash {
    const copy = new SimulatedFlash();
    const copies = new Map<Inode, Inode>();
    const copyOf = (inode: Inode): Inode => {
      let found = copies.get(inode);
      if (!found) {
        found = new Inode(inode.data.slice(), inode.durable.slice());
        found.pending = [...inode.pending];
        copies.set(inode, found);
      }
      return found;
    };
    const copyMap = (map: Map<string, Inode>) =>
      new Map([...map].map(([name, inode]) => [name, copyOf(inode)] as const));
    for (const [path, dir] of this.dirs) {
      const twin = new Directory(copyMap(dir.entries), copyMap(dir.durable));
      twin.pending = dir.pending.map((change) =>
        change.map(([name, inode]) => [name, inode && copyOf(inode)] as const),
      );
      copy.dirs.set(path, twin);
    }
    return copy;
  }

  /** Test hook: the current bytes of a file, or undefined. */
  peek(path: string): Uint8Array | undefined {
    return this.inode(path)?.data.slice();
  }

  /** Test hook: replaces a file's bytes durably (bit rot, a file damaged outside the store). */
  damage(path: string, change: (bytes: Uint8Array) => Uint8Array): void {
    const inode = this.inode(path);
    if (!inode) throw notFound(path);
    inode.data = change(inode.data.slice());
    inode.durable = inode.data.slice();
    inode.pending = [];
  }
}

/** What of a file's unsynced changes survives: `kept` whole, maybe the next one torn. */
function surviving(
  inode: Inode,
  kept: number,
  random: ((below: number) => number) | undefined,
): Uint8Array {
  let data: Uint8Array = inode.durable.slice();
  for (const change of inode.pending.slice(0, kept)) data = applyFileChange(data, change);
  const next = inode.pending[kept];
  if (random && next?.kind === 'write' && random(2) === 1) {
    // A write cut part way: a prefix landed, then garbage, the rest never arrived.
    const landed = random(next.bytes.length + 1);
    const garbage = Uint8Array.from({ length: random(next.bytes.length - landed + 1) }, () =>
      random(256),
    );
    const torn = new Uint8Array(landed + garbage.length);
    torn.set(next.bytes.subarray(0, landed));
    torn.set(garbage, landed);
    data = applyFileChange(data, { kind: 'write', position: next.position, bytes: torn });
  }
  return data;
}
