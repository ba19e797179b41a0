/**
 * JSON parsing with syntax errors that say where: "line 3, column 12: expected ',' or '}'".
 * JSON.parse does the parsing; when it fails, a small scanner walks the text to find the first
 * offending character (V8's messages do not always carry a position).
 */

export class JsonSyntaxError extends Error {
  readonly line: number;
  readonly column: number;
  constructor(reason: string, line: number, column: number) {
    super(`line ${line}, column ${column}: ${reason}`);
    this.name = 'JsonSyntaxError';
    this.line = line;
    this.column = column;
  }
}

class Scan {
  i = 0;
  constructor(readonly s: string) {}

  fail(reason: string, at = this.i): never {
    const before = this.s.slice(0, at);
    const line = before.split('\n').length;
    const column = at - before.lastIndexOf('\n');
    throw new JsonSyntaxError(reason, line, column);
  }

  ws(): void {
    while (this.i < this.s.length && ' \t\n\r'.includes(this.s[this.i])) this.i++;
  }

  describe(): string {
    return this.i >= this.s.length ? 'the end of the file' : JSON.stringify(this.s[this.i]);
  }

  value(): void {
    this.ws();
    const c = this.s[this.i];
    if (c === '{') return this.object();
    if (c === '[') return this.array();
    if (c === '"') return this.string();
    if (c === '-' || (c >= '0' && c <= '9')) return this.number();
    for (const word of ['true', 'false', 'null']) {
      if (this.s.startsWith(word, this.i)) {
        this.i += word.length;
        return;
      }
    }
    this.fail(`expected a value, found ${this.describe()}`);
  }

  object(): void {
    this.i++;
    this.ws();
    if (this.s[this.i] === '}') {
      this.i++;
      return;
    }
    for (;;) {
      this.ws();
      if (this.s[this.i] !== '"') this.fail(`expected a property name in double quotes, found ${this.describe()}`);
      this.string();
      this.ws();
      if (this.s[this.i] !== ':') this.fail(`expected ':' after the property name, found ${this.describe()}`);
      this.i++;
      this.value();
      this.ws();
      const c = this.s[this.i];
      if (c === ',') {
        this.i++;
        this.ws();
        if (this.s[this.i] === '}') this.fail('trailing comma before }');
        continue;
      }
      if (c === '}') {
        this.i++;
        return;
      }
      this.fail(`expected ',' or '}', found ${this.describe()}`);
    }
  }

  array(): void {
    this.i++;
    this.ws();
    if (this.s[this.i] === ']') {
      this.i++;
      return;
    }
    for (;;) {
      this.value();
      this.ws();
      const c = this.s[this.i];
      if (c === ',') {
        this.i++;
        this.ws();
        if (this.s[this.i] === ']') this.fail('trailing comma before ]');
        continue;
      }
      if (c === ']') {
        this.i++;
        return;
      }
      this.fail(`expected ',' or ']', found ${this.describe()}`);
    }
  }

  string(): void {
    const start = this.i;
    this.i++;
    while (this.i < this.s.length) {
      const c = this.s[this.i];
      if (c === '"') {
        this.i++;
        return;
      }
      if (c === '\\') {
        const e = this.s[this.i + 1];
        if (e === 'u') {
          if (!/^[0-9a-fA-F]{4}$/.test(this.s.slice(this.i + 2, this.i + 6))) this.fail('bad \\u escape');
          this.i += 6;
        } else if (e !== undefined && '"\\/bfnrt'.includes(e)) {
          this.i += 2;
        } else {
          this.fail('bad escape in a string');
        }
        continue;
      }
      if (c < ' ') this.fail('control character (a raw newline?) inside a string');
      this.i++;
    }
    this.fail('unterminated string', start);
  }

  number(): void {
    const m = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(this.s.slice(this.i, this.i + 400));
    if (!m || m[0] === '-') this.fail('malformed number');
    this.i += m[0].length;
  }
}

/** Parses JSON; throws JsonSyntaxError with the line and column of the first error. */
export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    const scan = new Scan(text);
    scan.value();
    scan.ws();
    if (scan.i < text.length) scan.fail(`unexpected ${scan.describe()} after the JSON value`);
    // the scanner found nothing: report what JSON.parse said
    throw new JsonSyntaxError((err as Error).message.split('\n')[0], 1, 1);
  }
}
