// Preloaded with `node -r` by the renewal-fault tests: this process's clock is off by
// CLOCK_SHIFT_MS (Date.now only; timers are unaffected), as on a machine whose clock drifted.
'use strict';
const shift = Number(process.env.CLOCK_SHIFT_MS || 0);
const realNow = Date.now;
Date.now = () => realNow() + shift;
