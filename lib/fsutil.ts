/** File writing shared by loaders, plots and run logs. */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as nodePath from 'node:path';
import { EbmConfigError, EbmIoError } from './errors';
import { describeValue } from './validate';

/**
 * Writes a file atomically: a temp file in the same folder is written, flushed and renamed over
 * the target, so readers never see half a file and a failure leaves nothing behind.
 */
export function writeFileAtomic(
  path: string,
  contents: string | Uint8Array | readonly Uint8Array[],
  what = 'file',
): void {
  if (typeof path !== 'string' || path.length === 0) {
    throw new EbmConfigError(`path must be a non-empty string, got ${describeValue(path)}`);
  }
  const isBytes = (c: unknown) => c instanceof Uint8Array;
  if (typeof contents !== 'string' && !isBytes(contents) && !(Array.isArray(contents) && contents.every(isBytes))) {
    throw new EbmConfigError(
      `contents must be a string, a Uint8Array or an array of Uint8Arrays, got ${describeValue(contents, 0)}`,
    );
  }
  const chunks =
    typeof contents === 'string' ? [Buffer.from(contents)] : contents instanceof Uint8Array ? [contents] : contents;
  const tmp = nodePath.join(
    nodePath.dirname(path),
    `.${nodePath.basename(path)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`,
  );
  let fd: number | undefined;
  try {
    fd = fs.openSync(tmp, 'wx');
    for (const chunk of chunks) {
      let done = 0;
      while (done < chunk.length) done += fs.writeSync(fd, chunk, done, chunk.length - done);
    }
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    fd = undefined;
    fs.renameSync(tmp, path);
  } catch (err) {
    if (fd !== undefined) {
      try {
        fs.closeSync(fd);
      } catch {
        // already failing; report the first error
      }
    }
    fs.rmSync(tmp, { force: true });
    throw new EbmIoError(`cannot write ${what} ${path}: ${err instanceof Error ? err.message : String(err)}`);
  }
}
