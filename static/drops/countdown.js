// Countdown to a drop's opening. The server's clock decides: the page carries the server's time
// when it was rendered, so a phone whose clock is off still counts to the server's opening second
// (the server refuses an early press anyway). At zero the button is enabled.
(function () {
  "use strict";
  function pad(n) { return (n < 10 ? "0" : "") + n; }
  function text(ms) {
    var s = Math.ceil(ms / 1000), d = Math.floor(s / 86400);
    s -= d * 86400;
    var h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
    return "距开抢 " + (d ? d + "天 " : "") + pad(h) + ":" + pad(m) + ":" + pad(sec);
  }
  var loaded = Date.now();
  document.querySelectorAll("[data-countdown]").forEach(function (box) {
    var offset = Number(box.dataset.serverNow) - loaded;  // server time = Date.now() + offset
    var opens = Number(box.dataset.opensAt);
    var label = box.querySelector("[data-countdown-text]");
    var button = box.querySelector("button[data-open-label]");
    function tick() {
      var left = opens - (Date.now() + offset);
      if (left <= 0) {
        if (label) { label.textContent = "已开抢"; }
        if (button) { button.disabled = false; button.textContent = button.dataset.openLabel; }
        return;
      }
      if (label) { label.textContent = text(left); }
      setTimeout(tick, Math.min(250, left));
    }
    tick();
  });
})();
