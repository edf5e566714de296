/**
 * `sendEvent`: the requests the emulated Space sends when a member is archived, suspended or leaves,
 * or the application is uninstalled, received by a plain HTTP server: their payloads, and that they
 * are signed as `sendToApp` signs.
 */
import { createHmac } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { startSpaceEmulator, type SpaceEmulator } from 'passport-jetbrains-space/emulator';

const APP = { clientID: 'events-app', clientSecret: 'events-secret', redirectURIs: ['*'] };

let space: SpaceEmulator;
let server: Server;
let url: string;
let received: Array<{ headers: IncomingHttpHeaders; body: string }> = [];

beforeAll(async () => {
  space = await startSpaceEmulator({ port: 0, clients: [APP] });
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => { body += c.toString('utf8'); });
    req.on('end', () => {
      received.push({ headers: req.headers, body });
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/space`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
  await space.close();
});
beforeEach(() => { received = []; });

const john = () => space.users.find((u) => u.username === 'john.doe')!;

test('member.archived: a WebhookRequestPayload carrying a ProfileEvent whose member is archived, signed with the signing key', async () => {
  const answer = await space.sendEvent(url, 'member.archived', { member: 'john.doe', method: 'signing-key' });
  expect(answer.status).toBe(200);
  const [{ headers, body }] = received as [typeof received[0]];
  const payload = JSON.parse(body);
  expect(payload).toEqual({
    className: 'WebhookRequestPayload', clientId: APP.clientID, serverUrl: space.url, orgId: 'acme',
    payload: {
      className: 'ProfileEvent',
      meta: { principal: expect.any(Object), timestamp: { iso: expect.any(String), timestamp: expect.any(Number) }, method: 'Updated' },
      member: { id: john().id, username: 'john.doe', name: { firstName: 'John', lastName: 'Doe' }, archived: true, suspended: false, notAMember: false },
    },
  });
  const expected = createHmac('sha256', space.signingKey(APP.clientID)).update(`${headers['x-space-timestamp']}:${body}`).digest('hex');
  expect(headers['x-space-signature']).toBe(expected);
});

test('member.suspended and member.left: the flag Space sets for each', async () => {
  expect(space.eventPayload('member.suspended', { member: 'jane.roe' }).payload).toMatchObject({ className: 'ProfileEvent', member: { username: 'jane.roe', suspended: true, archived: false } });
  expect(space.eventPayload('member.left', { member: 'john.doe' }).payload).toMatchObject({
    className: 'ProfileOrganizationEvent', joinedOrganization: false, leftOrganization: true, member: { id: john().id, notAMember: true },
  });
});

test('app.uninstalled: an ApplicationUninstalledPayload, signed with the public key by default', async () => {
  await space.sendEvent(url, 'app.uninstalled');
  const [{ headers, body }] = received as [typeof received[0]];
  expect(JSON.parse(body)).toEqual({ className: 'ApplicationUninstalledPayload', clientId: APP.clientID, serverUrl: space.url });
  expect(headers['x-space-public-key-signature']).toEqual(expect.any(String));
});

test('a member event without a known member, or an unknown kind, is a TypeError that says what is missing', async () => {
  expect(() => space.eventPayload('member.archived')).toThrow(/needs \{ member \}/);
  expect(() => space.eventPayload('member.left', { member: 'ghost' })).toThrow(/needs \{ member \}/);
  expect(() => space.eventPayload('member.deleted' as never, { member: 'john.doe' })).toThrow(/kind must be one of/);
  await expect(space.sendEvent(url, 'member.archived')).rejects.toThrow(TypeError);
  expect(received).toEqual([]);
});
