/** Image-prior evaluation: inpainting masks, (masked) squared error and the mean-image fill baseline. */
import { EbmConfigError, EbmShapeError } from '../errors';
import { checkFinite, checkTensor, Tensor } from '../tensor';
import { checkNumber, checkOneOf, describeValue } from '../validate';

/** The most values a mask may hold (8 GiB of float32, as datasets.imageFolder). */
const MAX_VALUES = 2 ** 31;

export type MaskKind = 'centre' | 'half';

/** Masks [n, C, H, W], 1 = observed: 'centre' hides the middle half of each side, 'half' the bottom half. */
export function inpaintMask(n: number, imageShape: readonly number[], kind: MaskKind): Tensor {
  checkNumber(n, 'n', { integer: true, min: 1 });
  if (!Array.isArray(imageShape) || imageShape.length !== 3) {
    throw new EbmShapeError(`imageShape must be [channels, height, width], got ${describeValue(imageShape)}`);
  }
  imageShape.forEach((d: unknown, i) => checkNumber(d, `imageShape[${i}]`, { integer: true, min: 1 }));
  checkOneOf(kind, ['centre', 'half'] as const, 'kind');
  const [c, h, w] = imageShape;
  if (n * c * h * w > MAX_VALUES) {
    throw new EbmConfigError(
      `inpaintMask: n × imageShape (n × channels × height × width) must be at most 2^31 values, got ${n * c * h * w}`,
    );
  }
  const data = new Float32Array(n * c * h * w).fill(1);
  const top = kind === 'centre' ? Math.floor(h / 4) : Math.floor(h / 2);
  const bottom = kind === 'centre' ? top + Math.floor(h / 2) : h;
  const left = kind === 'centre' ? Math.floor(w / 4) : 0;
  const right = kind === 'centre' ? left + Math.floor(w / 2) : w;
  for (let p = 0; p < n * c; p++)
    for (let y = top; y < bottom; y++) data.fill(0, (p * h + y) * w + left, (p * h + y) * w + right);
  return { data, shape: [n, c, h, w] };
}

/** Throws EbmShapeError unless `t` is a finite tensor of `ref`'s shape (rows of its row shape, with `rowsOnly`). */
function checkLike(t: Tensor, what: string, ref: Tensor, refName: string, rowsOnly = false): void {
  checkTensor(t, what);
  const same = rowsOnly
    ? t.shape.length === ref.shape.length && t.shape.every((d, i) => i === 0 || d === ref.shape[i])
    : t.shape.length === ref.shape.length && t.shape.every((d, i) => d === ref.shape[i]);
  if (!same) {
    const want = rowsOnly
      ? `rows shaped like the ${refName}, [N, ${ref.shape.slice(1).join(', ')}]`
      : `the shape of ${refName}, [${ref.shape.join(', ')}]`;
    throw new EbmShapeError(`${what} must have ${want}, got [${t.shape.join(', ')}]`);
  }
  checkFinite(t, what);
}

/** Mean squared difference over the pixels where `mask` is 0 (every pixel without a mask). */
export function imageMse(a: Tensor, b: Tensor, mask?: Tensor): number {
  checkTensor(a, 'a');
  checkFinite(a, 'a');
  checkLike(b, 'b', a, 'a');
  if (mask !== undefined) checkLike(mask, 'mask', a, 'a');
  let sum = 0;
  let count = 0;
  for (let i = 0; i < a.data.length; i++) {
    if (mask && mask.data[i] !== 0) continue;
    sum += (a.data[i] - b.data[i]) ** 2;
    count++;
  }
  return count > 0 ? sum / count : 0;
}

/** The images with every missing pixel (mask 0) set to that pixel's mean over `data`: the baseline inpainting. */
export function meanFill(images: Tensor, mask: Tensor, data: Tensor): Tensor {
  checkTensor(images, 'images');
  checkFinite(images, 'images');
  checkLike(mask, 'mask', images, 'images');
  checkLike(data, 'data', images, 'images', true);
  const per = data.data.length / data.shape[0];
  const mean = new Float64Array(per);
  for (let i = 0; i < data.data.length; i++) mean[i % per] += data.data[i];
  for (let j = 0; j < per; j++) mean[j] /= data.shape[0];
  const out = images.data.slice();
  for (let i = 0; i < out.length; i++) if (mask.data[i] === 0) out[i] = mean[i % per];
  return { data: out, shape: [...images.shape] };
}
