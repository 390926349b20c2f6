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

  // The counter's keypad types into the amount field: at most one decimal separator (the
  // store's, from data-separator) and as many decimals as the currency has (data-decimals:
  // none for JPY, three for KWD).
  function keypad(k) {
    var a = document.getElementById('amount');
    if (!a) { return; }
    if (k === '⌫') { a.value = a.value.slice(0, -1); return; }
    var sep = a.getAttribute('data-separator') || '.';
    var places = parseInt(a.getAttribute('data-decimals') || '2', 10);
    var at = a.value.indexOf(sep);
    if (k === sep && (at >= 0 || places === 0)) { return; }
    if (at >= 0 && a.value.length - at > places) { return; }
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

  // The main menu: laid out in the bar on wide screens (open), a drop-down elsewhere that
  // closes on Escape, on a click outside it, and when a link in it is followed.
  function navMenu() {
    var menu = document.querySelector('.nav-menu');
    if (!menu || !window.matchMedia) { return; }
    var wide = window.matchMedia('(min-width: 1250px)');
    function fit() { menu.open = wide.matches; }
    fit();
    if (wide.addEventListener) { wide.addEventListener('change', fit); }
    document.addEventListener('keydown', function (e) {
      if (e.key === 'Escape' && menu.open && !wide.matches) {
        menu.open = false;
        menu.querySelector('summary').focus();
      }
    });
    document.addEventListener('click', function (e) {
      if (menu.open && !wide.matches && !menu.contains(e.target)) { menu.open = false; }
    });
  }

  // Live connection state: a banner while the websocket is down (htmx's ws extension
  // reconnects with a growing, jittered delay). After a drop, a list page fetches itself again
  // and swaps in its content, so no update missed meanwhile stays missing; a payment's page
  // gets its present state from the server on reconnecting; the counter keeps its form.
  function liveState() {
    var banner = document.getElementById('live-banner');
    var live = document.getElementById('live');
    if (!banner || !live) { return; }
    var dropped = false;
    document.body.addEventListener('htmx:wsClose', function () {
      dropped = true;
      banner.hidden = false;
    });
    document.body.addEventListener('htmx:wsOpen', function () {
      banner.hidden = true;
      if (dropped && live.getAttribute('data-resync') === 'page') { resync(); }
      dropped = false;
    });
  }

  function resync() {
    fetch(window.location.href, { credentials: 'same-origin' }).then(function (r) {
      return r.ok ? r.text() : null;
    }).then(function (html) {
      if (!html) { return; }
      var fresh = new DOMParser().parseFromString(html, 'text/html').getElementById('main');
      var main = document.getElementById('main');
      if (!fresh || !main) { return; }
      Array.prototype.slice.call(main.children).forEach(function (c) { if (c.id !== 'live') { main.removeChild(c); } });
      Array.prototype.slice.call(fresh.children).forEach(function (c) {
        if (c.id !== 'live') { main.appendChild(document.importNode(c, true)); }
      });
      if (window.htmx) { window.htmx.process(main); }
    }).catch(function () {});
  }

  function start() {
    navMenu();
    liveState();
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
