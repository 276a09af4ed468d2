/**
 * Follows one service output file (`stdout.log`) the way `tail -F` does,
 * polled: each `poll()` returns the whole lines written since the last one.
 *
 * Rotation: the agent rotates with copy-and-truncate (see log-rotation.ts),
 * so the live file keeps its inode and shrinks; what was written after our
 * last read went into the fresh copy `<file>.1`, and is read from there
 * before continuing at the start of the live file. A file renamed away and
 * recreated (a different inode) is drained through the descriptor we hold,
 * then the new file is followed from its start. A truncation without a copy
 * starts over at 0. Lines are neither lost nor repeated unless the file is
 * rotated and written past its old size between two polls, or more than
 * `maxRecoverBytes` were unread at rotation (or the rotation itself lost a
 * line in its window between copy and truncation; see log-rotation.ts).
 */
import { open, stat, type FileHandle } from 'node:fs/promises';
import { StringDecoder } from 'node:string_decoder';

export interface LogFollowerOptions {
  /** Byte offset to start at; omitted: the file's end at `start()` or the first poll (only new output; all of a file created later). */
  startOffset?: number;
  /** Most bytes read from the live file per poll (the rest comes next poll). Default 64 KiB. */
  maxReadBytes?: number;
  /** Most bytes recovered from the rotated copy at a rotation. Default 1 MiB. */
  maxRecoverBytes?: number;
  /** A partial line is returned anyway once this many polls saw it or reached `maxPartialChars`. Default 7. */
  stalePartialPolls?: number;
  /** Default 16 KiB. */
  maxPartialChars?: number;
}

/** Identity of a file version: a new inode, or the same inode number reused with a new change time. */
type FileId = string;

async function statId(path: string): Promise<{ id: FileId; ino: number; size: number } | null> {
  try {
    const st = await stat(path);
    return { id: `${st.ino}:${st.ctimeMs}`, ino: st.ino, size: st.size };
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
}

async function readRange(fh: FileHandle, from: number, length: number): Promise<Buffer> {
  if (length <= 0) return Buffer.alloc(0);
  const buf = Buffer.alloc(length);
  const { bytesRead } = await fh.read(buf, 0, length, from);
  return buf.subarray(0, bytesRead);
}

export class LogFollower {
  private fh: FileHandle | null = null;
  private ino = -1;
  private offset = 0;
  private rotatedId: FileId | null = null;
  private initialised = false;
  private startAt: number | undefined;
  private readonly decoder = new StringDecoder('utf8');
  private partial = '';
  private partialPolls = 0;
  private readonly o: Required<Omit<LogFollowerOptions, 'startOffset'>>;

  constructor(
    readonly file: string,
    private readonly opts: LogFollowerOptions = {},
  ) {
    this.o = {
      maxReadBytes: opts.maxReadBytes ?? 64 * 1024,
      maxRecoverBytes: opts.maxRecoverBytes ?? 1024 * 1024,
      stalePartialPolls: opts.stalePartialPolls ?? 7,
      maxPartialChars: opts.maxPartialChars ?? 16 * 1024,
    };
    this.startAt = opts.startOffset;
  }

  /** Where the next read of the live file starts. */
  get position(): number {
    return this.offset;
  }

  /**
   * Fixes where following begins (the file's end now, when no `startOffset`
   * was given) without reading. Optional: the first `poll()` does it.
   */
  async start(): Promise<void> {
    if (!this.initialised) await this.init();
  }

  /**
   * Reads what is new; returns whole lines (each ending in "\n"), then a
   * stale or long partial line as it is. Empty when nothing is new. Not
   * reentrant: await one poll before the next. Throws on I/O errors other
   * than the file being absent (it is waited for).
   */
  async poll(): Promise<string> {
    const bytes: Buffer[] = [];
    if (!this.initialised) {
      await this.init();
    } else {
      await this.checkRotation(bytes);
    }
    if (this.fh) {
      const cur = await this.fh.stat();
      const chunk = await readRange(this.fh, this.offset, Math.min(cur.size - this.offset, this.o.maxReadBytes));
      this.offset += chunk.length;
      bytes.push(chunk);
    }
    return this.lines(bytes.map((b) => this.decoder.write(b)).join(''));
  }

  async close(): Promise<void> {
    const fh = this.fh;
    this.fh = null;
    await fh?.close();
  }

  private async init(): Promise<void> {
    if (!(await statId(this.file))) {
      // Not written yet: everything it will hold is new.
      this.startAt = 0;
      return;
    }
    this.rotatedId = (await statId(`${this.file}.1`))?.id ?? null;
    const size = await this.openLive();
    if (size === null) return;
    this.initialised = true;
    const start = this.startAt;
    // An offset past the end means the file was rotated meanwhile: start over.
    this.offset = start === undefined ? size : start > size ? 0 : start;
  }

  /** Opens the file now at the path, from its start; returns its size, or null if it is gone. */
  private async openLive(): Promise<number | null> {
    await this.close();
    try {
      this.fh = await open(this.file, 'r');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw e;
    }
    const st = await this.fh.stat();
    this.ino = st.ino;
    this.offset = 0;
    return st.size;
  }

  private async checkRotation(bytes: Buffer[]): Promise<void> {
    const live = await statId(this.file);
    if (live && live.ino === this.ino) {
      const copy = await statId(`${this.file}.1`);
      const newCopy = copy !== null && copy.id !== this.rotatedId;
      // A new copy alone is not enough: until the live file is truncated, it still holds everything.
      const truncated = live.size < this.offset || (newCopy && live.size < copy.size);
      if (!truncated) return;
      if (newCopy) {
        this.rotatedId = copy.id;
        if (copy.size > this.offset) {
          const fh = await open(`${this.file}.1`, 'r');
          try {
            bytes.push(await readRange(fh, this.offset, Math.min(copy.size - this.offset, this.o.maxRecoverBytes)));
          } finally {
            await fh.close();
          }
        }
      }
      this.offset = 0;
      return;
    }
    // Renamed away or deleted: what is left of our file is still readable through our descriptor.
    if (this.fh) {
      for (;;) {
        const chunk = await readRange(this.fh, this.offset, this.o.maxRecoverBytes);
        if (chunk.length === 0) break;
        this.offset += chunk.length;
        bytes.push(chunk);
        if (chunk.length < this.o.maxRecoverBytes) break;
      }
    }
    if (!live) return;
    this.rotatedId = (await statId(`${this.file}.1`))?.id ?? null;
    await this.openLive();
  }

  private lines(text: string): string {
    const all = this.partial + text;
    const end = all.lastIndexOf('\n') + 1;
    let out = all.slice(0, end);
    this.partial = all.slice(end);
    if (end > 0) this.partialPolls = 0;
    if (this.partial === '') {
      this.partialPolls = 0;
    } else if (++this.partialPolls >= this.o.stalePartialPolls || this.partial.length >= this.o.maxPartialChars) {
      out += this.partial;
      this.partial = '';
      this.partialPolls = 0;
    }
    return out;
  }
}
