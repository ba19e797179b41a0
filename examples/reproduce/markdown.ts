/**
 * Text helpers shared by the generated README sections (bench/readme.ts, examples/reproduce/readme.ts) and the
 * committed result files: JSON and Markdown tables laid out the way Prettier lays them out, so that
 * `prettier --check` passes on what the scripts write.
 */
import * as fs from 'node:fs';

/**
 * JSON as Prettier writes it (print width 120): two-space indents; arrays of numbers or strings on one line when
 * the line fits, else numbers filled into lines of at most 120 characters and strings one per line.
 */
export function formatJson(value: unknown, printWidth = 120): string {
  const text = JSON.stringify(value, null, 2).replace(/\[\n\s*([^[\]{}]*?)\n\s*\]/g, (_all, inner: string) =>
    inner.length > 0 ? `[${inner.split(/,\n\s*/).join(', ')}]` : '[]',
  );
  const lines = text.split('\n').flatMap((line) => {
    const m = /^(\s*)("(?:[^"\\]|\\.)*": )?\[(.+)\](,?)$/.exec(line);
    if (line.length <= printWidth || !m || /[[\]{}]/.test(m[3].replace(/"(?:[^"\\]|\\.)*"/g, ''))) return [line];
    const [, indent, key = '', inner, comma] = m;
    const items = (JSON.parse(`[${inner}]`) as unknown[]).map((v) => JSON.stringify(v));
    const inside = `${indent}  `;
    const body: string[] = [];
    if (items.every((v) => !v.startsWith('"'))) {
      let current = '';
      items.forEach((item, i) => {
        const piece = i < items.length - 1 ? `${item},` : item;
        if (current && inside.length + current.length + 1 + piece.length > printWidth) {
          body.push(inside + current);
          current = piece;
        } else {
          current = current ? `${current} ${piece}` : piece;
        }
      });
      body.push(inside + current);
    } else {
      items.forEach((item, i) => body.push(`${inside}${item}${i < items.length - 1 ? ',' : ''}`));
    }
    return [`${indent}${key}[`, ...body, `${indent}]${comma}`];
  });
  return `${lines.join('\n')}\n`;
}

/** A Markdown table laid out the way Prettier lays it out; `right[c]` right-aligns column c. */
export function markdownTable(rows: string[][], right: boolean[]): string {
  const width = (s: string) => [...s].length;
  const pad = (s: string, w: number, alignRight: boolean) =>
    alignRight ? ' '.repeat(w - width(s)) + s : s + ' '.repeat(w - width(s));
  const widths = rows[0].map((_, c) => Math.max(3, ...rows.map((r) => width(r[c]))));
  const line = (cells: string[]) => `| ${cells.map((cell, c) => pad(cell, widths[c], right[c])).join(' | ')} |`;
  const rule = `| ${widths.map((w, c) => (right[c] ? `${'-'.repeat(w - 1)}:` : '-'.repeat(w))).join(' | ')} |`;
  return [line(rows[0]), rule, ...rows.slice(1).map(line)].join('\n');
}

/** Words joined into lines of at most `width` characters; no line starts with a Markdown list or heading marker. */
export function wrap(text: string, width = 100): string {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    const risky = /^([-+*#>]|\d+[.)])$/.test(word);
    if (line && line.length + 1 + word.length > width && !risky) {
      lines.push(line);
      line = word;
    } else {
      line = line ? `${line} ${word}` : word;
    }
  }
  return [...lines, line].join('\n');
}

/**
 * Replaces the text between two marker lines of `file` with `body` (a blank line on either side) and writes the
 * file when that changes it. Throws when the markers are missing, unless `insertBefore` (a line prefix that starts
 * the section after which the markers belong, e.g. '## Command line') is given: then `heading`, the markers and
 * the body are inserted before the first line starting with it.
 */
export function replaceBetweenMarkers(
  file: string,
  begin: string,
  end: string,
  body: string,
  insert?: { before: string; heading: string },
): boolean {
  let text = fs.readFileSync(file, 'utf8');
  if (text.indexOf(begin) < 0 && insert) {
    const at = text.indexOf(`\n${insert.before}`);
    if (at < 0) throw new Error(`${file} has no line starting with ${insert.before}`);
    text = `${text.slice(0, at + 1)}${insert.heading}\n\n${begin}\n${end}\n\n${text.slice(at + 1)}`;
  }
  const a = text.indexOf(begin);
  const b = text.indexOf(end);
  if (a < 0 || b < a) throw new Error(`${file} lacks the markers ${begin} ... ${end}`);
  const next = `${text.slice(0, a + begin.length)}\n\n${body}\n\n${text.slice(b)}`;
  const changed = next !== fs.readFileSync(file, 'utf8');
  if (changed) fs.writeFileSync(file, next);
  return changed;
}
