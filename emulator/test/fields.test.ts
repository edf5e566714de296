/**
 * The pure `$fields` parser and projector (Space partial responses, docs/space-api.md#profile).
 */
import { applyFields, FieldsError, parseFields, projectFields, type FieldSelection } from '../src/fields';

/** A selection as a plain object, for readable expectations. */
function plain(selection: FieldSelection): unknown {
  const fields: Record<string, unknown> = {};
  for (const [name, value] of selection.fields) fields[name] = value === true ? true : plain(value);
  return selection.all ? { '*': true, ...fields } : fields;
}

const profile = {
  id: 'u1',
  username: 'john',
  name: { firstName: 'John', lastName: 'Doe' },
  avatar: null,
  emails: [
    { id: 'e1', email: 'a@example.com', verified: true },
    { id: 'e2', email: 'b@example.com', verified: false },
  ],
  languages: [],
};

describe('parseFields', () => {
  test.each([
    ['id', { id: true }],
    ['id,username', { id: true, username: true }],
    ['name(firstName,lastName)', { name: { firstName: true, lastName: true } }],
    ['*', { '*': true }],
    ['*,name(firstName)', { '*': true, name: { firstName: true } }],
    ['a(b(c(d)))', { a: { b: { c: { d: true } } } }],
    [' id , name ( firstName ,lastName ) ', { id: true, name: { firstName: true, lastName: true } }],
    ['\tid,\n username', { id: true, username: true }],
    ['managers!,memberships!2', { managers: true, memberships: true }],
    ['emails(*)', { emails: { '*': true } }],
    ['$errors,_x', { $errors: true, _x: true }],
  ])('parses %j', (input, expected) => {
    expect(plain(parseFields(input))).toEqual(expected);
  });

  test('repeated fields merge; a bare field wins over a nested selection', () => {
    expect(plain(parseFields('name(firstName),name(lastName)'))).toEqual({ name: { firstName: true, lastName: true } });
    expect(plain(parseFields('name(firstName),name'))).toEqual({ name: true });
    expect(plain(parseFields('id,id'))).toEqual({ id: true });
  });

  test.each([
    '', ' ', ',', 'id,', ',id', 'id,,name', 'name(', 'name(firstName', 'name)', 'name()', 'name(firstName))',
    '(id)', 'id name', '1abc', 'na-me', 'a.b', '**', 'id;drop', 'name(first Name)', 'x!y',
  ])('rejects malformed %j with a FieldsError', (input) => {
    expect(() => parseFields(input)).toThrow(FieldsError);
  });

  test('errors say where the problem is', () => {
    expect(() => parseFields('id,name(first')).toThrow(/position 13/);
  });

  test('hostile input is bounded: deep nesting and very long input fail fast', () => {
    expect(() => parseFields(`${'a('.repeat(5000)}b${')'.repeat(5000)}`)).toThrow(FieldsError);
    expect(() => parseFields(`${'a('.repeat(17)}b${')'.repeat(17)}`)).toThrow(/deeper/);
    expect(() => parseFields('a,'.repeat(10_000) + 'a')).toThrow(/longer/);
  });
});

describe('projectFields', () => {
  const project = (fields: string) => projectFields(profile, parseFields(fields));

  test('selects named fields, in the order asked', () => {
    expect(project('username,id')).toEqual({ username: 'john', id: 'u1' });
  });

  test('a nested selection applies to an object and to each element of a list', () => {
    expect(project('name(firstName),emails(email)')).toEqual({
      name: { firstName: 'John' },
      emails: [{ email: 'a@example.com' }, { email: 'b@example.com' }],
    });
  });

  test('* selects scalar fields only (null included), objects and lists must be named', () => {
    expect(project('*')).toEqual({ id: 'u1', username: 'john', avatar: null });
    expect(project('emails(*)')).toEqual({ emails: profile.emails });
  });

  test('a named object or list without parentheses comes back whole', () => {
    expect(project('name,languages')).toEqual({ name: profile.name, languages: [] });
  });

  test('a nested selection on null gives null; on a scalar it is an error', () => {
    expect(project('avatar(x)')).toEqual({ avatar: null });
    expect(() => project('id(x)')).toThrow(FieldsError);
  });

  test('unknown fields are errors, at any depth, naming the path', () => {
    expect(() => project('nope')).toThrow(/unknown field "nope"/);
    expect(() => project('name(middleName)')).toThrow(/unknown field "name.middleName"/);
    expect(() => project('emails(primary)')).toThrow(/unknown field "emails\[0\].primary"/);
  });

  test('prototype keys are not fields', () => {
    expect(() => project('__proto__')).toThrow(FieldsError);
    expect(() => project('constructor')).toThrow(FieldsError);
    expect(() => project('toString')).toThrow(FieldsError);
  });

  test('the input is not modified', () => {
    const copy = structuredClone(profile);
    project('name(firstName),emails(email)');
    expect(profile).toEqual(copy);
  });

  test('applyFields without a selection returns the value unchanged', () => {
    expect(applyFields(profile, undefined)).toBe(profile);
    expect(applyFields(profile, 'id')).toEqual({ id: 'u1' });
  });
});
