/**
 * Space's `$fields` partial-response syntax: a pure parser and a projector (no I/O).
 *
 * Syntax (docs/space-api.md#profile, from the Kotlin SDK's `PartialBuilder.buildQuery` and the .NET
 * `Partial` class): a comma-separated list of field names; a nested selection in parentheses,
 * `name(firstName,lastName)`; `*` for all fields of that level; `managers!` / `managers!2` for a
 * recursive selection. Whitespace between tokens is tolerated.
 *
 * Projection rules of the emulator:
 * - `*` selects the scalar fields (strings, numbers, booleans, null) of that level, like Space's
 *   default partial; objects and lists must be named.
 * - a named object or list field without parentheses comes back whole;
 * - a nested selection applies to an object, or to each element of a list;
 * - an unknown field is a `validation-error`, so a typo in a client's `$fields` fails in tests
 *   instead of silently returning less data. (What real Space does here is not documented.)
 */

/** A parsed `$fields` selection: `all` is set by `*`; `fields` maps names to a nested selection or `true`. */
export interface FieldSelection {
  all: boolean;
  fields: Map<string, FieldSelection | true>;
}

/** Thrown for malformed `$fields` or an impossible projection; the API answers 400 `validation-error`. */
export class FieldsError extends Error {
  override name = 'FieldsError';
}

const NAME = /[A-Za-z_$][A-Za-z0-9_$]*/y;
const DIGITS = /[0-9]+/y;
const WHITESPACE = /\s*/y;
/** Deeper nesting than any Space model has; bounds recursion on hostile input. */
const MAX_DEPTH = 16;
/** Longer than any real `$fields`; bounds work on hostile input. */
const MAX_LENGTH = 8192;

/** Parses a `$fields` expression. Throws {@link FieldsError} with the position of the problem. */
export function parseFields(input: string): FieldSelection {
  if (input.length > MAX_LENGTH) throw new FieldsError(`$fields is longer than ${MAX_LENGTH} characters`);
  let pos = 0;

  const skipSpace = (): void => {
    WHITESPACE.lastIndex = pos;
    WHITESPACE.exec(input);
    pos = WHITESPACE.lastIndex;
  };
  const match = (re: RegExp): string | null => {
    re.lastIndex = pos;
    const m = re.exec(input);
    if (!m) return null;
    pos = re.lastIndex;
    return m[0];
  };
  const expected = (what: string): never => {
    const found = pos < input.length ? `"${input[pos]}"` : 'end of input';
    throw new FieldsError(`$fields: expected ${what} at position ${pos}, found ${found}`);
  };

  const parseList = (depth: number): FieldSelection => {
    if (depth > MAX_DEPTH) throw new FieldsError(`$fields is nested deeper than ${MAX_DEPTH} levels`);
    const selection: FieldSelection = { all: false, fields: new Map() };
    for (;;) {
      skipSpace();
      if (input[pos] === '*') {
        pos += 1;
        selection.all = true;
      } else {
        const name = match(NAME) ?? expected('a field name or "*"');
        skipSpace();
        let value: FieldSelection | true = true;
        if (input[pos] === '(') {
          pos += 1;
          value = parseList(depth + 1);
          skipSpace();
          if (input[pos] !== ')') expected('")"');
          pos += 1;
        } else if (input[pos] === '!') {
          // Recursive selection (`managers!2`): no emulated model is recursive, so it selects the field whole.
          pos += 1;
          match(DIGITS);
        }
        selection.fields.set(name, mergeSelections(selection.fields.get(name), value));
      }
      skipSpace();
      if (input[pos] !== ',') return selection;
      pos += 1;
    }
  };

  const selection = parseList(0);
  skipSpace();
  if (pos !== input.length) expected('"," or end of input');
  return selection;
}

/** `a(x),a(y)` selects `a(x,y)`; a bare `a` (whole field) wins over a nested selection. */
function mergeSelections(a: FieldSelection | true | undefined, b: FieldSelection | true): FieldSelection | true {
  if (a === undefined) return b;
  if (a === true || b === true) return true;
  const fields = new Map(a.fields);
  for (const [name, value] of b.fields) fields.set(name, mergeSelections(fields.get(name), value));
  return { all: a.all || b.all, fields };
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

function isObject(value: unknown): value is { [key: string]: Json } {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isScalar(value: unknown): boolean {
  return value === null || (typeof value !== 'object' && typeof value !== 'function');
}

/**
 * Projects `value` (an object, or a list of objects) by `selection`. `path` names the position
 * for error messages. Throws {@link FieldsError} for unknown fields or a nested selection on a scalar.
 */
export function projectFields(value: Json, selection: FieldSelection, path = ''): Json {
  if (Array.isArray(value)) return value.map((item, i) => projectFields(item, selection, `${path}[${i}]`));
  if (value === null) return null;
  if (!isObject(value)) throw new FieldsError(`$fields: "${path}" is not an object and cannot take a nested selection`);

  const out: { [key: string]: Json } = {};
  if (selection.all) {
    for (const [key, field] of Object.entries(value)) if (isScalar(field)) out[key] = field;
  }
  for (const [name, nested] of selection.fields) {
    if (!Object.prototype.hasOwnProperty.call(value, name)) {
      throw new FieldsError(`$fields: unknown field "${path ? `${path}.` : ''}${name}"`);
    }
    const field = value[name] as Json;
    out[name] = nested === true ? field : projectFields(field, nested, path ? `${path}.${name}` : name);
  }
  return out;
}

/** Parses and projects in one step; `undefined` input returns `value` unchanged. */
export function applyFields(value: Json, fields: string | undefined): Json {
  return fields === undefined ? value : projectFields(value, parseFields(fields));
}

export type { Json };
