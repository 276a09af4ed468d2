/**
 * Hand-made tar.gz archives for tests: one raw ustar header per entry, so a
 * test can build archives no honest tool would (links out of the package,
 * devices, setuid bits, the same path twice).
 *
 *   writeRawArchive(file, [tarEntry('a', { type: '2', link: '..' }), tarEntry('f', { body: 'x', mode: '0004755' })]);
 */
import { writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';

/** One entry: header + content. `type` is the ustar type flag ('0' file, '1' hard link, '2' symlink, '3' char device, '5' dir, '6' FIFO). */
export function tarEntry(name: string, opts: { type?: string; body?: string; link?: string; mode?: string } = {}): Buffer {
  const body = Buffer.from(opts.body ?? '');
  const h = Buffer.alloc(512);
  const put = (s: string, off: number, len: number) => h.write(s, off, len, 'utf8');
  put(name, 0, 100);
  put(`${opts.mode ?? '0000644'}\0`, 100, 8);
  put('0000000\0', 108, 8);
  put('0000000\0', 116, 8);
  put(`${body.length.toString(8).padStart(11, '0')}\0`, 124, 12);
  put('00000000000\0', 136, 12);
  put('        ', 148, 8);
  put(opts.type ?? '0', 156, 1);
  put(opts.link ?? '', 157, 100);
  put('ustar\0', 257, 6);
  put('00', 263, 2);
  let sum = 0;
  for (const b of h) sum += b;
  put(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 8);
  const pad = Buffer.alloc((512 - (body.length % 512)) % 512);
  return Buffer.concat([h, body, pad]);
}

/** Writes the entries as a gzipped tar (with its two zero end blocks) to `file`; returns `file`. */
export function writeRawArchive(file: string, entries: Buffer[]): string {
  writeFileSync(file, gzipSync(Buffer.concat([...entries, Buffer.alloc(1024)])));
  return file;
}
