// 마을길잡이: the only script besides htmx. Shows errors htmx does not swap (403, 404, 413, 5xx,
// network) in the page's alert region, using the server's own Korean message when it sent one.
(function () {
  "use strict";
  function show(text) {
    var region = document.getElementById("flash");
    if (!region) return;
    region.textContent = text;
    region.hidden = false;
    region.focus();
  }
  document.addEventListener("htmx:responseError", function (event) {
    var xhr = event.detail.xhr;
    var message = "";
    try {
      var doc = new DOMParser().parseFromString(xhr.responseText, "text/html");
      var p = doc.querySelector(".error-panel p:not(.eyebrow)");
      message = p ? p.textContent.trim() : "";
    } catch (e) { message = ""; }
    show(message || "요청을 처리하지 못했습니다 (오류 " + xhr.status + "). 잠시 후 다시 시도하세요.");
  });
  document.addEventListener("htmx:sendError", function () {
    show("서버에 연결할 수 없습니다. 네트워크 상태를 확인한 뒤 다시 시도하세요.");
  });
  // Print buttons (the readiness report): no inline handlers under the CSP.
  document.addEventListener("click", function (event) {
    if (event.target.closest && event.target.closest("[data-print]")) window.print();
  });
  // Opening an unread 알림 marks it read with a beacon, so the link stays a plain link (a new tab
  // works; without script the row's 읽음 button does the same).
  function markRead(event) {
    var link = event.target.closest && event.target.closest("a[data-read-url]");
    if (!link || !navigator.sendBeacon) return;
    var meta = document.querySelector('meta[name="csrf-token"]');
    var body = new FormData();
    body.append("csrf_token", meta ? meta.getAttribute("content") : "");
    navigator.sendBeacon(link.getAttribute("data-read-url"), body);
    link.removeAttribute("data-read-url");
  }
  document.addEventListener("click", markRead);
  document.addEventListener("auxclick", function (event) { if (event.button === 1) markRead(event); });
  document.addEventListener("htmx:beforeRequest", function () {
    var region = document.getElementById("flash");
    if (region) region.hidden = true;
  });
})();
