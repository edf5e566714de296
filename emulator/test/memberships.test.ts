/**
 * The emulated team directory over real HTTP: `GET /api/http/team-directory/memberships`
 * (scope check, nested teams, archived filter, paging, `$fields`), the `teams` / `roles` /
 * `memberships` options and `setMemberships` at run time.
 */
import type { SpaceEmulator, SpaceEmulatorOptions } from 'passport-jetbrains-space/emulator';
import { startSpaceEmulator } from 'passport-jetbrains-space/emulator';
import { api, signIn, startsEmulatorPerTest } from '../../__tests__/helpers/emulator';

const MEMBERSHIPS = '/api/http/team-directory/memberships';
const SCOPE = 'global:Profile.View global:Profile.Memberships.View';

let space: SpaceEmulator;
const start = startsEmulatorPerTest((s) => {
  space = s;
});

interface Team {
  id: string;
  name: string;
  parent: Team | null;
  archived: boolean;
}
interface Membership {
  id: string;
  member: { id: string; username: string };
  team: Team;
  role: { id: string; name: string };
  lead: boolean;
  since: { iso: string; timestamp: number } | null;
  till: { iso: string; timestamp: number } | null;
  archived: boolean;
  requiresApproval: boolean;
}
interface Batch {
  next: string;
  totalCount: number;
  data: Membership[];
}

async function tokenFor(user = 'john.doe', scope = SCOPE): Promise<string> {
  space.setAutoApprove(user);
  return (await signIn(space, { scope })).access_token;
}

async function memberships(token: string, query = 'profiles=me'): Promise<{ status: number; body: Batch & { error?: string } }> {
  const res = await api(space, `${MEMBERSHIPS}?${query}`, token);
  return { status: res.status, body: (await res.json()) as Batch & { error?: string } };
}

/** Team names from the team up to the root, e.g. `Storage › Platform › Acme`. */
function chain(team: Team | null): string {
  const names: string[] = [];
  for (let t = team; t; t = t.parent) names.push(t.name);
  return names.join(' › ');
}

describe('access', () => {
  test('refuses a token without the memberships scope with 403 permission-denied', async () => {
    await start();
    const token = await tokenFor('john.doe', 'global:Profile.View');
    const { status, body } = await memberships(token);
    expect(status).toBe(403);
    expect(body.error).toBe('permission-denied');
  });

  test('accepts Profile.Memberships.View without the global: prefix, and **', async () => {
    await start();
    expect((await memberships(await tokenFor('john.doe', 'Profile.Memberships.View'))).status).toBe(200);
    expect((await memberships(await tokenFor('john.doe', '**'))).status).toBe(200);
  });

  test('answers 401 authentication-required without a bearer token', async () => {
    await start();
    const res = await api(space, `${MEMBERSHIPS}?profiles=me`);
    expect(res.status).toBe(401);
    expect(await res.json()).toMatchObject({ error: 'authentication-required' });
  });

  test('injected faults apply to the endpoint like to any other', async () => {
    await start();
    const token = await tokenFor();
    space.inject({ path: MEMBERSHIPS, status: 503, body: { error: 'service-unavailable' }, times: 1 });
    expect((await memberships(token)).status).toBe(503);
    expect((await memberships(token)).status).toBe(200);
  });
});

describe('the default directory', () => {
  test('john.doe leads Storage, with its parents Platform and Acme nested in the team', async () => {
    await start();
    const { status, body } = await memberships(await tokenFor('john.doe'));
    expect(status).toBe(200);
    expect(body.totalCount).toBe(1);
    const [m] = body.data;
    expect(m).toMatchObject({ member: { username: 'john.doe' }, role: { name: 'Team Lead' }, lead: true, archived: false, requiresApproval: false });
    expect(chain(m!.team)).toBe('Storage › Platform › Acme');
    expect(m!.since).toEqual({ iso: '2021-03-01', timestamp: Date.UTC(2021, 2, 1) });
    expect(m!.till).toBeNull();
  });

  test('archived memberships are left out unless withArchived=true', async () => {
    await start();
    const token = await tokenFor('john.doe');
    expect((await memberships(token)).body.data.map((m) => m.team.name)).toEqual(['Storage']);
    const all = await memberships(token, 'profiles=me&withArchived=true');
    expect(all.body.data.map((m) => [m.team.name, m.archived])).toEqual([['Storage', false], ['Legacy Tools', true]]);
    expect(all.body.data[1]!.team.archived).toBe(true);
  });

  test('jane.roe has an ended and an unapproved membership besides Marketing', async () => {
    await start();
    const { body } = await memberships(await tokenFor('jane.roe'));
    const today = new Date().toISOString().slice(0, 10);
    const summary = body.data.map((m) => ({ team: m.team.name, role: m.role.name, ended: m.till !== null && m.till.iso < today, pending: m.requiresApproval }));
    expect(summary).toEqual([
      { team: 'Marketing', role: 'Designer', ended: false, pending: false },
      { team: 'Platform', role: 'Engineer', ended: true, pending: false },
      { team: 'Storage', role: 'Engineer', ended: false, pending: true },
    ]);
  });

  test('profiles takes an id or username:<name>; without profiles every member is listed; unknown is 404', async () => {
    await start();
    const token = await tokenFor('john.doe');
    const jane = space.users.find((u) => u.username === 'jane.roe')!;
    expect((await memberships(token, `profiles=${jane.id}`)).body.totalCount).toBe(3);
    expect((await memberships(token, 'profiles=username:jane.roe')).body.totalCount).toBe(3);
    expect((await memberships(token, '')).body.totalCount).toBe(4);
    const unknown = await memberships(token, 'profiles=username:ghost');
    expect(unknown.status).toBe(404);
    expect(unknown.body.error).toBe('not-found');
  });

  test('teams and roles are readable as snapshots', async () => {
    await start();
    expect(space.teams.map((t) => t.name)).toEqual(['Acme', 'Platform', 'Storage', 'Marketing', 'Legacy Tools']);
    expect(space.roles.map((r) => r.name)).toEqual(['Team Lead', 'Engineer', 'Designer']);
    (space.teams[0] as { name: string }).name = 'changed';
    expect(space.teams[0]!.name).toBe('Acme');
  });
});

describe('paging and $fields', () => {
  test('$top=1 walks every page, next is the following $skip', async () => {
    await start();
    const token = await tokenFor('jane.roe');
    const seen: string[] = [];
    let skip = '0';
    for (let page = 0; page < 10; page += 1) {
      const { body } = await memberships(token, `profiles=me&$top=1&$skip=${skip}`);
      expect(body.totalCount).toBe(3);
      if (body.data.length === 0) break;
      expect(body.data).toHaveLength(1);
      seen.push(body.data[0]!.id);
      expect(body.next).toBe(String(Number(skip) + 1));
      skip = body.next;
    }
    expect(seen).toHaveLength(3);
    expect(new Set(seen).size).toBe(3);
    expect(Number(skip)).toBe(3);
  });

  test('$fields trims the batch and nested teams', async () => {
    await start();
    const token = await tokenFor('john.doe');
    const fields = 'next,totalCount,data(id,team(id,name,parent(id,name,parent(id,name))),role(name),lead)';
    const { status, body } = await memberships(token, `profiles=me&$fields=${encodeURIComponent(fields)}`);
    expect(status).toBe(200);
    expect(body).toEqual({
      next: '1',
      totalCount: 1,
      data: [{
        id: 'membership-john-storage',
        team: { id: 'team-storage', name: 'Storage', parent: { id: 'team-platform', name: 'Platform', parent: { id: 'team-acme', name: 'Acme' } } },
        role: { name: 'Team Lead' },
        lead: true,
      }],
    });
  });

  test('a bad $top, a repeated $top or an unknown $fields field is a 400 validation-error', async () => {
    await start();
    const token = await tokenFor();
    for (const query of ['$top=-1', '$top=abc', '$top=1&$top=2', '$fields=data(nope)', 'withArchived=yes']) {
      const { status, body } = await memberships(token, `profiles=me&${query}`);
      expect([query, status, body.error]).toEqual([query, 400, 'validation-error']);
    }
  });
});

describe('setMemberships', () => {
  test('replaces a user\'s memberships, visible to the next call', async () => {
    await start();
    const token = await tokenFor('john.doe');
    space.setMemberships('john.doe', [
      { teamId: 'team-marketing', roleId: 'role-designer', since: '2024-01-01' },
      { teamId: 'team-platform' },
    ]);
    const { body } = await memberships(token);
    expect(body.data.map((m) => [chain(m.team), m.role.name, m.lead])).toEqual([
      ['Marketing › Acme', 'Designer', false],
      ['Platform › Acme', 'Team Lead', false],
    ]);
    space.setMemberships(space.users[0]!.id, []);
    expect((await memberships(token)).body).toEqual({ next: '0', totalCount: 0, data: [] });
  });

  test('throws a TypeError for an unknown user, team, role or date, and changes nothing', async () => {
    await start();
    expect(() => space.setMemberships('ghost', [])).toThrow(/setMemberships.*ghost/);
    expect(() => space.setMemberships('john.doe', [{ teamId: 'nope' }])).toThrow(TypeError);
    expect(() => space.setMemberships('john.doe', [{ teamId: 'team-acme', roleId: 'nope' }])).toThrow(/roleId/);
    expect(() => space.setMemberships('john.doe', [{ teamId: 'team-acme', since: '2024-02-30' }])).toThrow(/since/);
    expect(() => space.setMemberships('john.doe', [{ teamId: 'team-acme', since: '2024-02-02', till: '2024-02-01' }])).toThrow(/till/);
    expect(() => space.setMemberships('john.doe', [{ id: 'membership-jane-marketing', teamId: 'team-acme' }])).toThrow(/unique/);
    const { body } = await memberships(await tokenFor('john.doe'));
    expect(body.data.map((m) => m.id)).toEqual(['membership-john-storage']);
  });
});

describe('options', () => {
  test('custom teams, roles and memberships (member by username or id)', async () => {
    await start({
      teams: [{ id: 'root', name: 'Org' }, { id: 'ops', name: 'Ops', parentId: 'root' }],
      roles: [{ id: 'sre', name: 'SRE' }],
      memberships: [{ member: 'john.doe', teamId: 'ops', lead: true }, { member: '3bTgo35Ky7v', teamId: 'root', till: '2000-01-01' }],
    });
    const token = await tokenFor('john.doe');
    const { body } = await memberships(token, '');
    expect(body.data.map((m) => [m.member.username, chain(m.team), m.role.name, m.till?.iso ?? null])).toEqual([
      ['john.doe', 'Ops › Org', 'SRE', null],
      ['jane.roe', 'Org', 'SRE', '2000-01-01'],
    ]);
  });

  test('custom teams without memberships start with an empty directory', async () => {
    await start({ teams: [{ id: 'root', name: 'Org' }] });
    expect((await memberships(await tokenFor('john.doe'))).body.totalCount).toBe(0);
  });

  test.each<[string, SpaceEmulatorOptions, RegExp]>([
    ['teams not a list', { teams: {} as never }, /"teams"/],
    ['team id missing', { teams: [{ name: 'x' } as never] }, /"teams\[\]\.id"/],
    ['duplicate team ids', { teams: [{ id: 'a', name: 'A' }, { id: 'a', name: 'B' }] }, /"teams".*unique/],
    ['unknown parent', { teams: [{ id: 'a', name: 'A', parentId: 'b' }] }, /"teams\[\]\.parentId"/],
    ['a cycle', { teams: [{ id: 'a', name: 'A', parentId: 'b' }, { id: 'b', name: 'B', parentId: 'a' }] }, /cycles/],
    ['roles not a list', { roles: 'x' as never }, /"roles"/],
    ['unknown member', { memberships: [{ member: 'ghost', teamId: 'team-acme' }] }, /"memberships\[\]\.member"/],
    ['unknown team', { memberships: [{ member: 'john.doe', teamId: 'nope' }] }, /"memberships\[\]\.teamId"/],
    ['bad lead', { memberships: [{ member: 'john.doe', teamId: 'team-acme', lead: 'yes' as never }] }, /"memberships\[\]\.lead"/],
    ['bad till', { memberships: [{ member: 'john.doe', teamId: 'team-acme', till: '01/02/2024' }] }, /"memberships\[\]\.till"/],
    ['membershipScopes', { membershipScopes: [''] }, /"membershipScopes"/],
  ])('%s throws a TypeError naming the option', async (_name, options, message) => {
    await expect(startSpaceEmulator({ port: 0, ...options })).rejects.toThrow(TypeError);
    await expect(startSpaceEmulator({ port: 0, ...options })).rejects.toThrow(message);
  });
});
