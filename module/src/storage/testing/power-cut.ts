/**
 * Power cuts between any two mutating file steps. CuttingFileOps wraps any FileOps (simulated or
 * real), counts the steps that change the disk (open for writing, write, sync, truncate, rename,
 * unlink, directory sync, mkdir) and, once armed with a budget of k steps, throws PowerCut instead
 * of taking step k + 1. From then on every call fails: the store that was cut is abandoned, as a
 * powered-off CPU would be, and the test reopens the directory with a fresh store.
 */
import type { FileOps, OpenMode, StorageFile } from '../file-ops.js';

export class PowerCut extends Error {
  override readonly name = 'PowerCut';
}

export class CuttingFileOps implements FileOps {
  /** Mutating steps taken since arm() (or since construction). */
  steps = 0;
  /** What each step was, for a readable failure message. */
  readonly trace: string[] = [];
  private budget = Number.POSITIVE_INFINITY;
  private cut = false;

  constructor(private readonly inner: FileOps) {}

  /** Counts steps from zero and cuts the power before step `afterSteps + 1`. */
  arm(afterSteps: number = Number.POSITIVE_INFINITY): void {
    this.steps = 0;
    this.trace.length = 0;
    this.budget = afterSteps;
  }

  get wasCut(): boolean {
    return this.cut;
  }

  private powered(): void {
    if (this.cut) throw new PowerCut('the power is off');
  }

  private step(what: string): void {
    this.powered();
    if (this.steps >= this.budget) {
      this.cut = true;
      throw new PowerCut(`power cut after ${this.steps} steps, before ${what}`);
    }
    this.steps++;
    this.trace.push(what);
  }

  async open(path: string, mode: OpenMode): Promise<StorageFile> {
    if (mode === 'read') this.powered();
    else this.step(`open ${mode} ${path}`);
    const file = await this.inner.open(path, mode);
    return {
      read: async (position, length) => {
        this.powered();
        return file.read(position, length);
      },
      write: async (position, bytes) => {
        this.step(`write ${bytes.length} B at ${position} of ${path}`);
        return file.write(position, bytes);
      },
      sync: async () => {
        this.step(`sync ${path}`);
        return file.sync();
      },
      truncate: async (length) => {
        this.step(`truncate ${path} to ${length}`);
        return file.truncate(length);
      },
      size: async () => {
        this.powered();
        return file.size();
      },
      // Closing changes nothing on disk; allowed after a cut so test cleanup can release handles.
      close: () => file.close(),
    };
  }

  async readdir(dir: string): Promise<string[]> {
    this.powered();
    return this.inner.readdir(dir);
  }

  async mkdirs(dir: string): Promise<void> {
    this.step(`mkdirs ${dir}`);
    return this.inner.mkdirs(dir);
  }

  async rename(from: string, to: string): Promise<void> {
    this.step(`rename ${from} -> ${to}`);
    return this.inner.rename(from, to);
  }

  async unlink(path: string): Promise<void> {
    this.step(`unlink ${path}`);
    return this.inner.unlink(path);
  }

  async syncDir(dir: string): Promise<void> {
    this.step(`sync dir ${dir}`);
    return this.inner.syncDir(dir);
  }
}
