// Orbit example app: counts down the access token's remaining lifetime on the Space API
// page. The only script of the app, loaded from this origin (the CSP allows no inline script).
'use strict';
(function () {
  var label = document.getElementById('expires-in');
  var bars = document.querySelectorAll('progress[data-expires-at]');
  if (!label) return;
  var expiresAt = Number(label.getAttribute('data-expires-at'));
  if (!Number.isFinite(expiresAt)) return;
  function tick() {
    var left = Math.max(0, Math.round((expiresAt - Date.now()) / 1000));
    label.textContent = left > 0 ? left + ' s' : 'expired';
    for (var i = 0; i < bars.length; i++) bars[i].value = left;
    if (left === 0) {
      label.title = 'The next request renews it: reload the page';
      clearInterval(timer);
    }
  }
  var timer = setInterval(tick, 1000);
  tick();
})();
