// Stops the redis-server global-setup.js started (by its pid), if it started one.
'use strict';
module.exports = async function globalTeardown() {
  const pid = Number(process.env.PJS_TEST_REDIS_PID);
  if (!pid) return;
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    // Already gone.
  }
};
