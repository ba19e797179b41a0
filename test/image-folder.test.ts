import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PNG, PackerOptions } from 'pngjs';
// imported directly, not from '../lib': these tests must run without the native addon
import { imageFolder } from '../lib/data/image-folder';
import { EbmConfigError, EbmIoError, EbmShapeError } from '../lib/errors';
import { rejectsWith, tmpDir } from './helpers';

type Rgba = readonly [number, number, number, number];

/** Writes an h×w PNG whose pixel (x, y) is `pixel(x, y)`. */
function writePng(
  file: string,
  height: number,
  width: number,
  pixel: (x: number, y: number) => Rgba,
  options?: PackerOptions,
): void {
  const png = new PNG({ width, height });
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const [r, g, b, a] = pixel(x, y);
      png.data.set([r, g, b, a], 4 * (y * width + x));
    }
  }
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, PNG.sync.write(png, options));
}

const gray = (v: number): Rgba => [v, v, v, 255];
const solid = (file: string, v: number, height = 2, width = 2) => writePng(file, height, width, () => gray(v));
/** The float32 value imageFolder stores for byte value v. */
const scaled = (v: number) => Math.fround(v / 127.5 - 1);

function sameValues(actual: ArrayLike<number>, expected: readonly number[]): void {
  assert.deepEqual(Array.from(actual), expected);
}

function closeValues(actual: ArrayLike<number>, expected: readonly number[], tol = 1e-6): void {
  assert.equal(actual.length, expected.length, 'length mismatch');
  for (let i = 0; i < expected.length; i++) {
    assert.ok(Math.abs(actual[i] - expected[i]) <= tol, `index ${i}: ${actual[i]} vs ${expected[i]}`);
  }
}

describe('data: imageFolder', () => {
  const root = tmpDir('ebm-imagefolder-');
  let count = 0;
  /** A fresh, empty folder for one test. */
  const folder = () => {
    const d = path.join(root, `case${count++}`);
    fs.mkdirSync(d);
    return d;
  };
  after(() => fs.rmSync(root, { recursive: true, force: true }));

  it('scales 0..255 to [-1, 1] exactly as v / 127.5 - 1', () => {
    const d = folder();
    const values = [0, 255, 51, 127, 128];
    writePng(path.join(d, 'a.png'), 1, values.length, (x) => gray(values[x]));
    const { images, files } = imageFolder(d);
    assert.deepEqual(files, ['a.png']);
    assert.deepEqual(images.shape, [1, 3, 1, 5]);
    assert.ok(images.data instanceof Float32Array);
    const row = [-1, 1, Math.fround(-0.6), scaled(127), scaled(128)];
    sameValues(images.data, [...row, ...row, ...row]);
  });

  it('lays pixels out as [N, C, H, W] with channels R, G, B', () => {
    const d = folder();
    // a non-square image so that swapping height and width, or HWC order, gives other numbers
    const pixel = (x: number, y: number): Rgba => [10 * y + x, 100 + 10 * y + x, 200 + 10 * y + x, 255];
    writePng(path.join(d, 'img.png'), 2, 3, pixel);
    const { images } = imageFolder(d);
    assert.deepEqual(images.shape, [1, 3, 2, 3]);
    const expected: number[] = [];
    for (let c = 0; c < 3; c++) {
      for (let y = 0; y < 2; y++) for (let x = 0; x < 3; x++) expected.push(scaled(pixel(x, y)[c]));
    }
    sameValues(images.data, expected);
  });

  it('converts to one channel of luma 0.299 R + 0.587 G + 0.114 B with grayscale: true', () => {
    const d = folder();
    const pixels: Rgba[] = [[255, 0, 0, 255], [0, 255, 0, 255], [0, 0, 255, 255], gray(51), [10, 20, 30, 255]];
    writePng(path.join(d, 'g.png'), 1, pixels.length, (x) => pixels[x]);
    const { images } = imageFolder(d, { grayscale: true });
    assert.deepEqual(images.shape, [1, 1, 1, 5]);
    const luma = ([r, g, b]: Rgba) => (0.299 * r + 0.587 * g + 0.114 * b) / 127.5 - 1;
    closeValues(images.data, pixels.map(luma));
    assert.equal(images.data[3], Math.fround(-0.6), 'a gray pixel keeps its exact value');
  });

  it('ignores alpha except that fully transparent pixels read as black', () => {
    const d = folder();
    const pixels: Rgba[] = [
      [200, 100, 50, 0],
      [200, 100, 50, 1],
      [200, 100, 50, 128],
      [200, 100, 50, 255],
    ];
    writePng(path.join(d, 'a.png'), 1, 4, (x) => pixels[x]);
    const { images } = imageFolder(d);
    const channel = (v: number) => [-1, scaled(v), scaled(v), scaled(v)];
    sameValues(images.data, [...channel(200), ...channel(100), ...channel(50)]);
  });

  it('reads grayscale-type and 16-bit PNGs', () => {
    const d = folder();
    writePng(path.join(d, 'a.png'), 1, 2, (x) => gray([51, 200][x]), { colorType: 0 });
    const png16 = new PNG({ width: 2, height: 1, bitDepth: 16 });
    png16.data = Buffer.from(new Uint16Array([51 * 257, 51 * 257, 51 * 257, 65535, 0, 65535, 0, 65535]).buffer);
    fs.writeFileSync(path.join(d, 'b.png'), PNG.sync.write(png16, { colorType: 6, bitDepth: 16 }));
    const { images } = imageFolder(d);
    assert.deepEqual(images.shape, [2, 3, 1, 2]);
    const m = Math.fround(-0.6);
    sameValues(images.data, [m, scaled(200), m, scaled(200), m, scaled(200), m, -1, m, 1, m, -1]);
  });

  it('shrinks by averaging: a 4×4 checkerboard becomes 2×2 of value 127.5 → 0', () => {
    const d = folder();
    writePng(path.join(d, 'check.png'), 4, 4, (x, y) => gray((x + y) % 2 === 0 ? 0 : 255));
    const rgb = imageFolder(d, { size: 2 });
    assert.deepEqual(rgb.images.shape, [1, 3, 2, 2]);
    sameValues(rgb.images.data, new Array(12).fill(0));
    const one = imageFolder(d, { size: [2, 2], grayscale: true });
    assert.deepEqual(one.images.shape, [1, 1, 2, 2]);
    sameValues(one.images.data, [0, 0, 0, 0]);
  });

  it('weights partly covered source pixels by their overlap when shrinking by a non-integer factor', () => {
    const d = folder();
    // width 3 → 2: output 0 covers source [0, 1.5), output 1 covers [1.5, 3)
    writePng(path.join(d, 'r.png'), 1, 3, (x) => gray([0, 90, 180][x]));
    const { images } = imageFolder(d, { size: [1, 2], grayscale: true });
    assert.deepEqual(images.shape, [1, 1, 1, 2]);
    closeValues(images.data, [30 / 127.5 - 1, 150 / 127.5 - 1]);
  });

  it('enlarges bilinearly between pixel centres; size is [height, width]', () => {
    const d = folder();
    writePng(path.join(d, 'u.png'), 1, 2, (x) => gray([0, 255][x]));
    const { images } = imageFolder(d, { size: [3, 4], grayscale: true });
    assert.deepEqual(images.shape, [1, 1, 3, 4]);
    // output x samples source x' = (x + 0.5) / 2 - 0.5 = -0.25, 0.25, 0.75, 1.25, clamped to [0, 1]
    const row = [-1, -0.5, 0.5, 1];
    sameValues(images.data, [...row, ...row, ...row]);
  });

  it('reads only *.png (any case), sorted by name, and lists the files', () => {
    const d = folder();
    const names = ['b.png', 'a.PNG', '10.png', '2.png', 'B.png'];
    names.forEach((name, i) => solid(path.join(d, name), 10 * (i + 1)));
    fs.writeFileSync(path.join(d, 'notes.txt'), 'not an image');
    fs.writeFileSync(path.join(d, 'c.png.txt'), 'not an image');
    fs.writeFileSync(path.join(d, 'png'), 'not an image');
    fs.mkdirSync(path.join(d, 'folder.png'));
    solid(path.join(d, 'sub', 'z.png'), 99);

    const { images, files } = imageFolder(d, { grayscale: true });
    const sorted = ['10.png', '2.png', 'B.png', 'a.PNG', 'b.png'];
    assert.deepEqual(files, sorted);
    assert.deepEqual(images.shape, [5, 1, 2, 2]);
    const expected = sorted.flatMap((name) => new Array(4).fill(scaled(10 * (names.indexOf(name) + 1))));
    sameValues(images.data, expected);
  });

  it('descends into subfolders with recursive: true', () => {
    const d = folder();
    solid(path.join(d, 'm.png'), 1);
    solid(path.join(d, 'sub', 'a.png'), 2);
    solid(path.join(d, 'sub', 'deeper', 'b.png'), 3);
    fs.writeFileSync(path.join(d, 'sub', 'notes.txt'), 'not an image');
    assert.deepEqual(imageFolder(d).files, ['m.png']);
    const { images, files } = imageFolder(d, { recursive: true, grayscale: true });
    assert.deepEqual(files, ['m.png', 'sub/a.png', 'sub/deeper/b.png']);
    sameValues(images.data, [1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3].map(scaled));
  });

  it('keeps the first `limit` files and does not read the rest', () => {
    const d = folder();
    for (let i = 0; i < 5; i++) solid(path.join(d, `img${i}.png`), 50 * i);
    fs.writeFileSync(path.join(d, 'img9.png'), 'corrupt, but past the limit');
    const { images, files } = imageFolder(d, { limit: 2, grayscale: true });
    assert.deepEqual(files, ['img0.png', 'img1.png']);
    assert.deepEqual(images.shape, [2, 1, 2, 2]);
    sameValues(images.data, [0, 0, 0, 0, 50, 50, 50, 50].map(scaled));
    fs.rmSync(path.join(d, 'img9.png'));
    assert.equal(imageFolder(d, { limit: 100 }).files.length, 5);
  });

  it('resizes images of different sizes to `size`', () => {
    const d = folder();
    solid(path.join(d, 'a.png'), 255, 4, 4);
    solid(path.join(d, 'b.png'), 0, 1, 3);
    const { images } = imageFolder(d, { size: [2, 3] });
    assert.deepEqual(images.shape, [2, 3, 2, 3]);
    sameValues(images.data, [...new Array(18).fill(1), ...new Array(18).fill(-1)]);
  });

  describe('errors', () => {
    it('a missing folder, or a file instead of a folder → EbmIoError naming the path', async () => {
      const missing = path.join(root, 'no-such-folder');
      await rejectsWith(() => imageFolder(missing), EbmIoError, /no-such-folder.*does not exist/);
      const d = folder();
      solid(path.join(d, 'a.png'), 0);
      await rejectsWith(() => imageFolder(path.join(d, 'a.png')), EbmIoError, /a\.png is not a directory/);
      await rejectsWith(() => imageFolder('' as string), EbmConfigError, /dir/);
      await rejectsWith(() => imageFolder(42 as unknown as string), EbmConfigError, /dir/);
    });

    it('a folder without PNG files → EbmIoError', async () => {
      const d = folder();
      fs.writeFileSync(path.join(d, 'readme.txt'), 'hello');
      solid(path.join(d, 'sub', 'a.png'), 0);
      await rejectsWith(() => imageFolder(d), EbmIoError, /holds no \.png files.*recursive/);
      const empty = folder();
      await rejectsWith(() => imageFolder(empty, { recursive: true }), EbmIoError, /no \.png files/);
    });

    it('a corrupt or truncated PNG → EbmIoError naming the file', async () => {
      const d = folder();
      solid(path.join(d, 'a.png'), 0);
      fs.writeFileSync(path.join(d, 'b.png'), 'this is not a PNG');
      await rejectsWith(() => imageFolder(d), EbmIoError, /b\.png is not a valid PNG/);

      const t = folder();
      solid(path.join(t, 'a.png'), 0);
      const good = fs.readFileSync(path.join(t, 'a.png'));
      fs.writeFileSync(path.join(t, 'c.png'), good.subarray(0, good.length - 20));
      await rejectsWith(() => imageFolder(t, { size: 4 }), EbmIoError, /c\.png is not a valid PNG/);

      const flipped = Buffer.from(good);
      flipped[good.length - 20] ^= 0xff;
      fs.writeFileSync(path.join(t, 'c.png'), flipped);
      await rejectsWith(() => imageFolder(t), EbmIoError, /c\.png/);
    });

    it('an image of another format → EbmIoError naming the file, also in a subfolder with recursive', async () => {
      const d = folder();
      solid(path.join(d, 'a.png'), 0);
      solid(path.join(d, 'z.png'), 0);
      fs.writeFileSync(path.join(d, 'photo.JPG'), Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0, 16]));
      fs.writeFileSync(path.join(d, 'b.webp'), 'RIFF....WEBPVP8 ');
      const err = await rejectsWith(
        () => imageFolder(d),
        EbmIoError,
        /b\.webp \(and 1 more\) is not a PNG file: imageFolder reads \.png files only/,
      );
      assert.ok(err.message.includes(path.join(d, 'b.webp')), err.message);
      // in a subfolder: an error only when the subfolders are read
      const r = folder();
      solid(path.join(r, 'a.png'), 0);
      fs.writeFileSync(path.join(r, 'notes.txt'), 'not an image, ignored');
      fs.mkdirSync(path.join(r, 'sub'));
      fs.writeFileSync(path.join(r, 'sub', 'x.tiff'), 'II*');
      assert.deepEqual(imageFolder(r).files, ['a.png']);
      await rejectsWith(() => imageFolder(r, { recursive: true }), EbmIoError, /sub.x\.tiff is not a PNG file/);
    });

    it('a .png file holding JPEG data → EbmIoError saying so', async () => {
      const d = folder();
      solid(path.join(d, 'a.png'), 0);
      fs.writeFileSync(path.join(d, 'b.png'), Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0, 16, 0x4a, 0x46, 0x49, 0x46]));
      await rejectsWith(
        () => imageFolder(d),
        EbmIoError,
        /b\.png is not a valid PNG file \(it holds JPEG data; convert it to PNG\)/,
      );
    });

    it('images of different sizes without `size` → EbmShapeError naming the file and both sizes', async () => {
      const d = folder();
      solid(path.join(d, 'a.png'), 0, 2, 3);
      solid(path.join(d, 'b.png'), 0, 2, 3);
      solid(path.join(d, 'c.png'), 0, 3, 2);
      solid(path.join(d, 'd.png'), 0, 5, 5);
      const err = await rejectsWith(() => imageFolder(d), EbmShapeError, /c\.png is 3×2/);
      assert.match(err.message, /a\.png is 2×3/);
      assert.doesNotMatch(err.message, /d\.png/);
    });

    it('bad options → EbmConfigError naming the field', async () => {
      const d = folder();
      solid(path.join(d, 'a.png'), 0);
      const bad: Array<[unknown, RegExp]> = [
        [{ size: 0 }, /options\.size must be >= 1/],
        [{ size: 4097 }, /options\.size must be <= 4096/],
        [{ size: 1.5 }, /options\.size must be an integer/],
        [{ size: '8' }, /options\.size must be a positive integer or a \[height, width\] pair/],
        [{ size: [8] }, /options\.size must be/],
        [{ size: [8, 8, 8] }, /options\.size must be/],
        [{ size: [8, 0] }, /options\.size\[1\] must be >= 1/],
        [{ size: [NaN, 8] }, /options\.size\[0\] must be an integer/],
        [{ limit: 0 }, /options\.limit must be >= 1/],
        [{ limit: 2.5 }, /options\.limit must be an integer/],
        [{ grayscale: 'yes' }, /options\.grayscale must be true or false/],
        [{ recursive: 1 }, /options\.recursive must be true or false/],
        [{ sizes: 8 }, /options\.sizes is not a known option/],
        [null, /options must be an object/],
      ];
      for (const [options, pattern] of bad) {
        await rejectsWith(() => imageFolder(d, options as never), EbmConfigError, pattern);
      }
    });

    it('more than 2^31 floats → EbmConfigError suggesting limit, before decoding anything', async () => {
      const d = folder();
      // 43 images of 3 × 4096 × 4096 are 2.16e9 floats; 42 would fit
      for (let i = 0; i < 43; i++) solid(path.join(d, `i${String(i).padStart(2, '0')}.png`), 0, 1, 1);
      fs.writeFileSync(path.join(d, 'i00.png'), 'corrupt: must not be reached');
      await rejectsWith(() => imageFolder(d, { size: 4096 }), EbmConfigError, /2\^31.*options\.limit \(at most 42/);
    });
  });
});
