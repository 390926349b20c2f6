// The portal's own scripts. None is inline in the pages, so the Content-Security-Policy
// forbids inline script and event-handler attributes.
(function () {
  'use strict';

  // Live clocks on payment screens: [data-deadline] counts down to a time (the reader's card
  // timeout), [data-since] counts up from one (how long the bank has been asked). Elements
  // pushed over the websocket are picked up on the next tick. Times are epoch milliseconds
  // from the server; the text comes from data-template with {s} for the seconds.
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

  // The counter's keypad types into the amount field: at most one decimal point and two
  // decimals.
  function keypad(k) {
    var a = document.getElementById('amount');
    if (!a) { return; }
    if (k === '⌫') { a.value = a.value.slice(0, -1); return; }
    if (k === '.' && a.value.indexOf('.') >= 0) { return; }
    var dot = a.value.indexOf('.');
    if (dot >= 0 && a.value.length - dot > 2) { return; }
    a.value += k;
  }

  // Live presence changes which readers can be chosen at the counter, both ways and without a
  // reload: each pushed status says whether its reader is available now. A chosen reader that
  // stops being available is unchosen, so a payment never starts on another one.
  function watchReaders() {
    var box = document.getElementById('reader-choice');
    if (!box) { return; }
    function sync() {
      box.querySelectorAll('.reader-option').forEach(function (opt) {
        var st = opt.querySelector('[data-available]'), input = opt.querySelector('input[type=radio]');
        if (!st || !input) { return; }
        var ok = st.getAttribute('data-available') === 'true';
        if (input.disabled === ok) { input.disabled = !ok; }
        if (opt.classList.contains('unavailable') === ok) { opt.classList.toggle('unavailable', !ok); }
        if (!ok && input.checked) {
          input.checked = false;
          var note = document.getElementById('reader-lost');
          if (note) {
            note.textContent = opt.querySelector('.reader-name').textContent + ' is no longer available: choose a reader.';
            note.hidden = false;
          }
        }
      });
    }
    // Pushed statuses replace their element: child list changes are enough to watch (watching
    // attributes would see this function's own changes).
    new MutationObserver(sync).observe(box, { subtree: true, childList: true });
    box.addEventListener('change', function () {
      var n = document.getElementById('reader-lost');
      if (n) { n.hidden = true; }
    });
  }

  document.addEventListener('click', function (e) {
    var key = e.target.closest('button.key[data-key]');
    if (key) { keypad(key.getAttribute('data-key')); return; }
    var act = e.target.closest('[data-action="print"]');
    if (act) { window.print(); }
  });

  function start() {
    watchReaders();
    tick();
    setInterval(tick, 1000);
  }
  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', start);
  } else {
    start();
  }
})();
