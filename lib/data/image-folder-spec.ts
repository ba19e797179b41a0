/**
 * The `imageFolder` data source of a run config: a folder of PNG images loaded by
 * datasets.imageFolder as [N, C, H, W] in [-1, 1]. Checked like every other field (the message
 * names data.imageFolder.<field>), the folder itself is read only when the data is loaded.
 */
import * as fs from 'node:fs';
import * as nodePath from 'node:path';
import { z } from 'zod';
import { EbmError, EbmIoError } from '../errors';
import { bool, int, obj, pick, text } from '../schema/fields';
import { Tensor } from '../tensor';
import { describeValue } from '../validate';
import { imageFolder } from './image-folder';

const side = () => int(1, 4096);

export const ImageFolderSchema = obj({
  dir: text('a non-empty folder path').describe(
    'the folder of PNG images (relative paths are resolved against the config file’s folder)',
  ),
  size: pick([side(), z.tuple([side(), side()], { error: () => ' must be a number or [height, width]' })], (v) =>
    Array.isArray(v) ? 1 : typeof v === 'number' ? 0 : ` must be a number or [height, width], got ${describeValue(v)}`,
  )
    .optional()
    .describe('one number for a square, or [height, width]; default: the size of the first image'),
  grayscale: bool().optional().describe('one channel (default false: 3 channels, R, G, B)'),
  limit: int(1).optional().describe('the first `limit` images'),
  recursive: bool().optional().describe('also the images in sub-folders'),
}).describe('PNG images as [N, C, H, W] in [-1, 1]');

export type ImageFolderSpec = z.output<typeof ImageFolderSchema>;

/** The spec with its folder resolved against `dir` (a config file's folder). */
export function resolveImageFolder(spec: ImageFolderSpec, dir: string): ImageFolderSpec {
  return { ...spec, dir: nodePath.resolve(dir, spec.dir) };
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
