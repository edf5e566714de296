/**
 * A strict parser for query strings and `application/x-www-form-urlencoded` bodies.
 *
 * `URLSearchParams` is lenient in two ways an OAuth server must not be: it silently keeps bad
 * percent-encoding, and it hides repeated parameters behind `get()`. RFC 6749 §3.1 and §3.2 say
 * "parameters MUST NOT be included more than once", and Space lists a repeated parameter as
 * `invalid_request` (docs/space-api.md#authorization-endpoint). This parser reports both.
 */

/** Thrown for input that is not valid form encoding (bad percent-escape, invalid UTF-8). */
export class ParamsError extends Error {
  override name = 'ParamsError';
}

/** Decodes one `application/x-www-form-urlencoded` component: `+` is a space, then percent-decoding. */
export function formDecode(component: string): string {
  try {
    // decodeURIComponent throws on malformed escapes and on escapes that are not UTF-8.
    return decodeURIComponent(component.replace(/\+/g, ' '));
  } catch {
    throw new ParamsError('malformed percent-encoding');
  }
}

/** Parsed parameters: every value of every name, in order. */
export class Params {
  private readonly values = new Map<string, string[]>();

  /** Parses `a=1&b=2`; a leading `?` is not expected. Throws {@link ParamsError}. */
  static parse(input: string): Params {
    const params = new Params();
    if (input === '') return params;
    for (const pair of input.split('&')) {
      if (pair === '') continue;
      const eq = pair.indexOf('=');
      const name = formDecode(eq === -1 ? pair : pair.slice(0, eq));
      const value = eq === -1 ? '' : formDecode(pair.slice(eq + 1));
      const list = params.values.get(name);
      if (list) list.push(value);
      else params.values.set(name, [value]);
    }
    return params;
  }

  /** Builds parameters from an object (used for tests and re-validation). */
  static from(record: Record<string, string | undefined>): Params {
    const params = new Params();
    for (const [name, value] of Object.entries(record)) if (value !== undefined) params.values.set(name, [value]);
    return params;
  }

  /** The first value of `name`, or undefined. */
  get(name: string): string | undefined {
    return this.values.get(name)?.[0];
  }

  /** Every value of `name`, in order; empty if absent. */
  getAll(name: string): string[] {
    return [...(this.values.get(name) ?? [])];
  }

  /** True if `name` occurs at all (even with an empty value). */
  has(name: string): boolean {
    return this.values.has(name);
  }

  /** Names that occur more than once. */
  duplicates(): string[] {
    return [...this.values].filter(([, list]) => list.length > 1).map(([name]) => name);
  }

  /**
   * First value per name as a plain object. `Object.fromEntries` defines own properties, so a
   * parameter named `__proto__` cannot change the object's prototype.
   */
  toRecord(): Record<string, string> {
    return Object.fromEntries([...this.values].map(([name, list]) => [name, list[0] ?? '']));
  }
}
