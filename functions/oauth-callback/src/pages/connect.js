// The onboarding page: Facebook's JavaScript SDK login with the session's configuration, the
// code sent to the service, and one visible state at a time. Without JavaScript, or when the
// SDK cannot load, the manual-dialog link does the same work.
(function () {
  'use strict';
  var config = JSON.parse(document.getElementById('onboarding-config').textContent);
  // Measured from this page's own clock, so a wrong system clock cannot shorten the session.
  var deadline = performance.now() + config.secondsLeft * 1000;
  var STATES = ['ready', 'loading', 'working', 'cancelled', 'failed', 'expired', 'sdk-failed'];
  var connect = document.getElementById('connect');

  function el(id) { return document.getElementById(id); }
  function secondsLeft() { return Math.max(0, Math.floor((deadline - performance.now()) / 1000)); }

  // The state sections sit in a live region: the one shown is read out.
  function show(state) {
    STATES.forEach(function (name) {
      var section = el('state-' + name);
      if (section) { section.hidden = name !== state; }
    });
    connect.hidden = !(state === 'ready' || state === 'cancelled' || state === 'failed');
    connect.disabled = connect.hidden;
    connect.textContent = state === 'ready' ? config.words.connect : config.words.tryAgain;
    el('manual').hidden = state === 'expired';
    document.body.setAttribute('data-state', state);
  }

  function showTimeLeft() {
    var left = secondsLeft();
    // Too little time for a login counts as none: the page never offers what cannot finish.
    if (left < config.minSecondsToLogin) {
      el('time-left').textContent = 'This link has expired.';
      if (document.body.getAttribute('data-state') !== 'working') { show('expired'); }
      return;
    }
    var minutes = Math.ceil(left / 60);
    el('time-left').textContent = 'This link works for ' + minutes + (minutes === 1 ? ' more minute.' : ' more minutes.');
  }

  // `retry`: whether this link can still work; if not, only the words stay.
  function fail(text, retry) {
    el('failed-text').textContent = text;
    show('failed');
    connect.hidden = !retry;
    connect.disabled = !retry;
  }

  function sendCode(code) {
    show('working');
    fetch(config.codeUrl, {
      method: 'POST',
      credentials: 'same-origin',
      headers: {'content-type': 'application/json'},
      body: JSON.stringify({code: code, state: config.state})
    }).then(function (response) {
      return response.json().then(function (body) { return {ok: response.ok, body: body}; });
    }).then(function (answer) {
      if (answer.ok) {
        window.location.replace(config.connectedUrl);
        return;
      }
      var error = (answer.body && answer.body.error) || {};
      fail(error.for_people || config.words.failed, error.retry !== false);
    }).catch(function () { fail(config.words.unreachable, true); });
  }

  connect.addEventListener('click', function () {
    // The session is checked again before Facebook is opened: consenting to a link that has
    // run out would be for nothing.
    if (secondsLeft() < config.minSecondsToLogin) { showTimeLeft(); return; }
    show('working');
    window.FB.login(function (response) {
      var auth = response && response.authResponse;
      if (!auth || !auth.code) { show('cancelled'); return; }
      sendCode(auth.code);
    }, {config_id: config.configId, response_type: 'code', override_default_response_type: true});
  });

  function sdkFailed() {
    if (document.body.getAttribute('data-state') === 'loading') { show('sdk-failed'); }
  }

  window.fbAsyncInit = function () {
    window.FB.init({appId: config.appId, version: config.version, xfbml: false, cookie: false});
    if (secondsLeft() >= config.minSecondsToLogin) { show('ready'); }
  };

  show('loading');
  showTimeLeft();
  window.setInterval(showTimeLeft, 15000);
  var sdk = document.createElement('script');
  sdk.src = config.sdkUrl;
  sdk.async = true;
  sdk.crossOrigin = 'anonymous';
  sdk.addEventListener('error', sdkFailed);
  document.head.appendChild(sdk);
  // A blocker can also answer with an empty script: no FB after a while is a failure too.
  window.setTimeout(function () { if (!window.FB) { sdkFailed(); } }, config.sdkTimeoutMs);
})();
