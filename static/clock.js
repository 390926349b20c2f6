// Live clocks on payment screens: [data-deadline] counts down to a time (the reader's card
// timeout), [data-since] counts up from one (how long the bank has been asked). Elements
// pushed over the websocket are picked up on the next tick. Times are epoch milliseconds
// from the server; the text comes from data-template with {s} for the seconds.
(function () {
  function tick() {
    var now = Date.now();
    document.querySelectorAll('[data-deadline],[data-since]').forEach(function (el) {
      var t = el.getAttribute('data-template') || '{s}';
      var s;
      if (el.hasAttribute('data-deadline')) {
        s = Math.max(0, Math.ceil((Number(el.getAttribute('data-deadline')) - now) / 1000));
      } else {
        s = Math.max(0, Math.floor((now - Number(el.getAttribute('data-since'))) / 1000));
      }
      el.textContent = t.replace('{s}', String(s));
    });
  }
  tick();
  setInterval(tick, 1000);
})();
