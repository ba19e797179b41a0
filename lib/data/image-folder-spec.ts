/**
 * The `imageFolder` data source of a run config: a folder of PNG images loaded by
 * datasets.imageFolder as [N, C, H, W] in [-1, 1]. Checked like every other field (the message
 * names data.imageFolder.<field>), the folder itself is read only when the data is loaded.
 */
import * as fs from 'node:fs';
import * as nodePath from 'node:path';
import { EbmConfigError, EbmError, EbmIoError } from '../errors';
import { Tensor } from '../tensor';
import { imageFolder } from './image-folder';
import {
  checkNumber,
  describeValue,
  Obj,
  optionalBoolean,
  optionalNumber,
  rejectUnknownKeys,
  requireObject,
} from '../validate';

export interface ImageFolderSpec {
  /** the folder, absolute once validated (relative paths are resolved against the config file's folder) */
  dir: string;
  /** one number for a square, or [height, width]; default: the size of the first image */
  size?: number | [number, number];
  /** default false: 3 channels (R, G, B) */
  grayscale?: boolean;
  limit?: number;
  recursive?: boolean;
}

const sideRange = { integer: true, min: 1, max: 4096 };

/** Checks `{ "imageFolder": { ... } }` (no file access) and resolves its folder against `dir`. */
export function validateImageFolderSpec(o: Obj, dir: string, path: string): { imageFolder: ImageFolderSpec } {
  rejectUnknownKeys(o, ['imageFolder'], path);
  const fp = `${path}.imageFolder`;
  const f = requireObject(o.imageFolder, fp);
  rejectUnknownKeys(f, ['dir', 'size', 'grayscale', 'limit', 'recursive'], fp);
  if (typeof f.dir !== 'string' || f.dir.length === 0) {
    throw new EbmConfigError(`${fp}.dir must be a non-empty folder path, got ${describeValue(f.dir)}`);
  }
  const spec: ImageFolderSpec = { dir: nodePath.resolve(dir, f.dir) };
  if (f.size !== undefined) {
    if (Array.isArray(f.size)) {
      if (f.size.length !== 2) throw new EbmConfigError(`${fp}.size must be a number or [height, width]`);
      spec.size = [
        checkNumber(f.size[0], `${fp}.size[0]`, sideRange),
        checkNumber(f.size[1], `${fp}.size[1]`, sideRange),
      ];
    } else {
      spec.size = checkNumber(f.size, `${fp}.size`, sideRange);
    }
  }
  optionalBoolean(f, 'grayscale', fp);
  optionalNumber(f, 'limit', fp, { integer: true, min: 1 });
  optionalBoolean(f, 'recursive', fp);
  if (f.grayscale !== undefined) spec.grayscale = f.grayscale as boolean;
  if (f.limit !== undefined) spec.limit = f.limit as number;
  if (f.recursive !== undefined) spec.recursive = f.recursive as boolean;
  return { imageFolder: spec };
}

/** Loads the images; a missing folder names data.imageFolder.dir, other failures data.imageFolder. */
export function loadImageFolderSpec(spec: ImageFolderSpec, path = 'data.imageFolder'): Tensor {
  const { dir, ...options } = spec;
  if (!fs.existsSync(dir)) throw new EbmIoError(`${path}.dir: folder ${dir} does not exist`);
  if (!fs.statSync(dir).isDirectory()) throw new EbmIoError(`${path}.dir: ${dir} is not a folder`);
  try {
    return imageFolder(dir, options).images;
  } catch (err) {
    if (err instanceof EbmError) err.message = `${path}: ${err.message}`;
    throw err;
  }
}
