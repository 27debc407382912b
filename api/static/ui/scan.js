/* Reception (/samples/new): the scan field and the phone camera. Served from /static/ui (the pages'
   Content-Security-Policy allows scripts from this site only, never inline). */
/* A hand scanner types the QR's text, line breaks as Enter, and ends with Enter: the text is read once the
   typing has paused (Shift+Enter keeps a line break). */
(function () {
  var field = document.getElementById("scan"), timer = null;
  field.addEventListener("keydown", function (e) {
    if (e.key !== "Enter" || e.shiftKey) return;
    e.preventDefault();
    field.setRangeText("\n", field.selectionStart, field.selectionEnd, "end");
    clearTimeout(timer);
    timer = setTimeout(function () { document.getElementById("scan-form").submit(); }, 400);
  });
  field.addEventListener("input", function () { if (timer) { clearTimeout(timer); timer = setTimeout(function () {
    document.getElementById("scan-form").submit(); }, 400); } });
})();
/* A phone camera reads the QR where the browser can (BarcodeDetector). */
(function () {
  if (!("BarcodeDetector" in window) || !navigator.mediaDevices) return;
  var button = document.getElementById("scan-camera");
  button.hidden = false;
  button.addEventListener("click", async function () {
    var video = document.getElementById("scan-video"), stream, detector;
    try {
      detector = new BarcodeDetector({formats: ["qr_code", "code_128", "data_matrix"]});
      stream = await navigator.mediaDevices.getUserMedia({video: {facingMode: "environment"}});
    } catch (e) { button.disabled = true; return; }
    video.hidden = false; video.srcObject = stream; await video.play();
    var tick = async function () {
      var found = await detector.detect(video).catch(function () { return []; });
      if (found.length) {
        stream.getTracks().forEach(function (t) { t.stop(); });
        document.getElementById("scan").value = found[0].rawValue;
        document.getElementById("scan-form").submit();
        return;
      }
      requestAnimationFrame(tick);
    };
    tick();
  });
})();
