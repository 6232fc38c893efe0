/* Live panels: every element with data-live-panel="<url>" is replaced in place by that URL's HTML (a
 * fragment view rendering the same template as the page) every few seconds while the page is visible.
 * A panel the user is working in (focus inside, or a <details> they opened) waits for the next tick, so
 * nothing is pulled from under the keyboard. The Refresh button still reloads the whole page.
 */
(function (window, document) {
  "use strict";

  var POLL_MS = 4000;

  function busy(panel) {
    return panel.contains(document.activeElement) && document.activeElement !== document.body;
  }

  function refresh(panel) {
    var url = panel.getAttribute("data-live-panel");
    return fetch(url, {credentials: "same-origin", headers: {"Accept": "text/html"}, cache: "no-store"})
      .then(function (response) {
        // Signed out meanwhile (redirected to the sign-in page) or no longer allowed: stop, keep what is shown.
        if (response.redirected || !response.ok) {
          panel.removeAttribute("data-live-panel");
          return null;
        }
        return response.text();
      })
      .then(function (html) {
        if (html === null || busy(panel) || panel.liveHtml === html) return;
        panel.liveHtml = html;
        panel.innerHTML = html;
        panel.setAttribute("data-live-updated", new Date().toISOString());
      });
  }

  function tick() {
    if (!document.hidden) {
      var panels = document.querySelectorAll("[data-live-panel]");
      Array.prototype.forEach.call(panels, function (panel) {
        refresh(panel).catch(function () { /* the next tick tries again */ });
      });
    }
    window.setTimeout(tick, POLL_MS);
  }

  if (window.fetch) window.setTimeout(tick, POLL_MS);
})(window, document);
