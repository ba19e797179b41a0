/**
 * A TensorBoard event file: events.out.tfevents.<unix seconds>.<hostname> in a run folder, so
 * `tensorboard --logdir runs` shows every run. The file is a TFRecord stream of `Event` protos
 * (the first one carries file_version "brain.Event:2"); each record is framed as
 *   uint64 LE length, uint32 LE masked CRC32C(length bytes), data, uint32 LE masked CRC32C(data).
 *
 * Unlike the other files of a run folder (written to a temp name and renamed), the event file is
 * an append-only log by design: every record is appended and flushed as it arrives, the way
 * TensorFlow writes it, so TensorBoard can follow a run while it trains. A crash can at worst
 * leave a truncated last record, which readers detect by its length and CRCs.
 */
import { crc32c } from '@aws-crypto/crc32c';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as protobuf from 'protobufjs';
import { EbmIoError } from '../errors';

const PROTO = `
syntax = "proto3";
message Image {
  int32 height = 1;
  int32 width = 2;
  int32 colorspace = 3;
  bytes encoded_image_string = 4;
}
message Value {
  string tag = 1;
  oneof value {
    float simple_value = 2;
    Image image = 4;
  }
}
message Summary { repeated Value value = 1; }
message Event {
  double wall_time = 1;
  int64 step = 2;
  string file_version = 3;
  Summary summary = 5;
}
`;

const Event = protobuf.parse(PROTO, { keepCase: true }).root.lookupType('Event');

const PREFIX = 'events.out.tfevents.';

/** True for the name of an event file. */
export function isEventFile(name: string): boolean {
  return name.startsWith(PREFIX);
}

/** The masked CRC32C of TFRecord framing. */
export function maskedCrc32c(bytes: Uint8Array): number {
  const c = crc32c(bytes) >>> 0;
  return (((c >>> 15) | (c << 17)) + 0xa282ead8) >>> 0;
}

/** One TFRecord: length, its masked CRC, the data, the data's masked CRC. */
export function tfRecord(data: Uint8Array): Buffer {
  const out = Buffer.alloc(16 + data.length);
  out.writeBigUInt64LE(BigInt(data.length), 0);
  out.writeUInt32LE(maskedCrc32c(out.subarray(0, 8)), 8);
  out.set(data, 12);
  out.writeUInt32LE(maskedCrc32c(data), 12 + data.length);
  return out;
}

/** PNG colour type (byte 25 of the IHDR) → TensorBoard colorspace: 1 gray, 2 gray+alpha, 3 RGB, 4 RGBA. */
const COLORSPACE: Record<number, number> = { 0: 1, 4: 2, 2: 3, 3: 3, 6: 4 };

/** Height, width and colorspace from a PNG's header (width at bytes 16–19, height at 20–23, big-endian). */
export function pngHeader(png: Uint8Array): { height: number; width: number; colorspace: number } {
  const b = Buffer.from(png.buffer, png.byteOffset, png.byteLength);
  if (b.length < 26 || b.readUInt32BE(0) !== 0x89504e47 || b.toString('latin1', 12, 16) !== 'IHDR') {
    throw new EbmIoError('not a PNG: no IHDR header');
  }
  return { width: b.readUInt32BE(16), height: b.readUInt32BE(20), colorspace: COLORSPACE[b[25]] ?? 3 };
}

export class EventWriter {
  readonly file: string;

  /** Starts a new event file in `dir` with the file_version record. */
  constructor(dir: string, now = Date.now()) {
    this.file = path.join(dir, `${PREFIX}${Math.floor(now / 1000)}.${os.hostname()}`);
    this.write({ wall_time: now / 1000, file_version: 'brain.Event:2' }, 'w');
  }

  /** One scalar per numeric field, all at `step`. */
  scalars(step: number, values: Record<string, number>): void {
    const value = Object.entries(values).map(([tag, v]) => ({ tag, simple_value: v }));
    if (value.length > 0) this.summary(step, value);
  }

  /** An image summary holding the PNG bytes as they are. */
  image(step: number, tag: string, png: Uint8Array): void {
    this.summary(step, [{ tag, image: { ...pngHeader(png), encoded_image_string: png } }]);
  }

  private summary(step: number, value: unknown[]): void {
    this.write({ wall_time: Date.now() / 1000, step, summary: { value } }, 'a');
  }

  private write(event: Record<string, unknown>, flag: 'w' | 'a'): void {
    const bytes = tfRecord(Event.encode(Event.fromObject(event)).finish());
    let fd: number | undefined;
    try {
      fd = fs.openSync(this.file, flag);
      let done = 0;
      while (done < bytes.length) done += fs.writeSync(fd, bytes, done, bytes.length - done);
    } catch (err) {
      throw new EbmIoError(`could not append to '${this.file}': ${(err as Error).message}`);
    } finally {
      if (fd !== undefined) fs.closeSync(fd);
    }
  }
}
