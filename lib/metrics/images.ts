/** Image-prior evaluation: inpainting masks, (masked) squared error and the mean-image fill baseline. */
import { Tensor } from '../tensor';

export type MaskKind = 'centre' | 'half';

/** Masks [n, C, H, W], 1 = observed: 'centre' hides the middle half of each side, 'half' the bottom half. */
export function inpaintMask(n: number, imageShape: readonly number[], kind: MaskKind): Tensor {
  const [c, h, w] = imageShape;
  const data = new Float32Array(n * c * h * w).fill(1);
  const top = kind === 'centre' ? Math.floor(h / 4) : Math.floor(h / 2);
  const bottom = kind === 'centre' ? top + Math.floor(h / 2) : h;
  const left = kind === 'centre' ? Math.floor(w / 4) : 0;
  const right = kind === 'centre' ? left + Math.floor(w / 2) : w;
  for (let p = 0; p < n * c; p++)
    for (let y = top; y < bottom; y++) data.fill(0, (p * h + y) * w + left, (p * h + y) * w + right);
  return { data, shape: [n, c, h, w] };
}

/** Mean squared difference over the pixels where `mask` is 0 (every pixel without a mask). */
export function imageMse(a: Tensor, b: Tensor, mask?: Tensor): number {
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
  const per = data.data.length / data.shape[0];
  const mean = new Float64Array(per);
  for (let i = 0; i < data.data.length; i++) mean[i % per] += data.data[i];
  for (let j = 0; j < per; j++) mean[j] /= data.shape[0];
  const out = images.data.slice();
  for (let i = 0; i < out.length; i++) if (mask.data[i] === 0) out[i] = mean[i % per];
  return { data: out, shape: [...images.shape] };
}
