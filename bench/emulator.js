// The Space stand-in, in its own process: two emulators, one with the default token lifetime
// (fresh tokens for the whole run) and one with short-lived tokens (renewal scenarios).
// Besides the emulator's own request counting it notes when each token answer was finished,
// on the clock the load generator uses, so the cross-process burst can be timed from the
// moment the winner got its new token.
'use strict';
const http = require('node:http');
const { CLIENT, clock, serve } = require('./common.js');

// Wrap http.createServer before the emulator module is loaded, so every server it creates gets
// one extra listener (registered first) that notes the end time of /oauth/token answers.
const tokenAnswers = [];
const createServer = http.createServer;
http.createServer = function benchCreateServer(...args) {
  const server = createServer.apply(this, args);
  server.on('request', (req, res) => {
    if (!req.url.startsWith('/oauth/token')) return;
    res.on('finish', () => tokenAnswers.push({ port: server.address().port, at: clock(), status: res.statusCode }));
  });
  return server;
};
const { startSpaceEmulator } = require('passport-jetbrains-space/emulator');

const SHORT_TTL = Number(process.env.BENCH_SHORT_TTL || 8);
const MEMBERS = Number(process.env.BENCH_MEMBERS || 1000);
// BENCH_CODE_TTL (seconds): a longer life for authorization codes, for apps that run slowly
// (instructions.js runs them under valgrind, where 150 sign-in starts can outlast the default 60 s).
const CODE_TTL = process.env.BENCH_CODE_TTL ? Number(process.env.BENCH_CODE_TTL) : undefined;

async function main() {
  // Sign-ins of many different members, approved in turn, as an app meets them: one member
  // signing in 20,000 times would pass the library's 50-sessions-per-user cap on every sign-in
  // (each one signing out that member's oldest session), which no real app sees. Each member is
  // shaped like john.doe (same field lengths), so sessions weigh what the baseline's does.
  const users = Array.from({ length: MEMBERS }, (_, i) => {
    const n = String(i).padStart(7, '0');
    return {
      id: `u${n}abcd`, username: `j${n}`, firstName: 'John', lastName: 'Doe',
      emails: [{ email: `j${n}@example.com`, verified: true }],
      avatar: `a${n}bcdef`, smallAvatar: `s${n}bcdef`, profilePicture: `p${n}bcde`,
    };
  });
  const common = {
    port: 0,
    clients: [{ ...CLIENT, redirectURIs: ['*'] }],
    users,
    autoApprove: users.map((u) => u.username),
    // Every sign-in gets a refresh token (Space gives one only on a user's first offline exchange).
    refreshTokenOnEveryExchange: true,
    // Count every token request between resets (the default keeps only the last 1,000, which
    // capped the memory phase's renewal count at 1,000).
    maxRecordedRequests: Infinity,
    ...(CODE_TTL ? { codeTTL: CODE_TTL } : {}),
  };
  const long = await startSpaceEmulator(common);
  const short = await startSpaceEmulator({ ...common, accessTokenTTL: SHORT_TTL });
  const pick = (which) => (which === 'short' ? short : long);
  const refreshCount = (e) => e.count('/oauth/token', { grant_type: 'refresh_token' });
  serve({
    // Counts since the last reset; the log is reset often so it does not grow over 20,000 sign-ins.
    counts: ({ which }) => {
      const e = pick(which);
      return { refresh: refreshCount(e), code: e.count('/oauth/token', { grant_type: 'authorization_code' }), profile: e.count('/api/http/team-directory/profiles/me') };
    },
    reset: ({ which }) => {
      pick(which).resetRequests();
      const port = pick(which).port;
      for (let i = tokenAnswers.length - 1; i >= 0; i--) if (tokenAnswers[i].port === port) tokenAnswers.splice(i, 1);
      return true;
    },
    // One member approved on every sign-in (`member`: an index into the members, negative from the
    // end), or, with no member, the rotation over every member again (restarted at the first).
    // Answers the member's username.
    approve: ({ which, member }) => {
      const user = member === undefined || member === null ? null : users.at(member);
      if (member !== undefined && member !== null && !user) throw new Error(`no member ${member}`);
      pick(which).setAutoApprove(user ? user.username : users.map((u) => u.username));
      return user ? user.username : null;
    },
    tokenAnswers: ({ which }) => tokenAnswers.filter((t) => t.port === pick(which).port),
    close: async () => {
      await Promise.all([long.close(), short.close()]);
      setImmediate(() => process.exit(0));
      return true;
    },
  });
  process.send({ ready: true, long: long.url, short: short.url, shortTTL: SHORT_TTL });
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
