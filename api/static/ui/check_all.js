/* Review queue (/review): a "check all" box per queue table. Served from /static/ui (the pages'
   Content-Security-Policy allows scripts from this site only, never inline); no inline handlers — the boxes
   are found by their data- attributes:
     <input type="checkbox" data-check-all="GROUP" hidden>   the header box (no name: it is never submitted)
     <input type="checkbox" name="result_id" data-check-group="GROUP">   the rows it checks
   Without this script the header box stays hidden and each row is checked by hand. */
(function () {
  function rows(group) {
    return Array.prototype.filter.call(document.querySelectorAll("input[type=checkbox][data-check-group]"),
      function (box) { return box.getAttribute("data-check-group") === group && !box.disabled; });
  }
  function reflect(all) {  /* the header box shows whether none, some or all rows are checked */
    var boxes = rows(all.getAttribute("data-check-all"));
    var checked = boxes.filter(function (box) { return box.checked; }).length;
    all.checked = boxes.length > 0 && checked === boxes.length;
    all.indeterminate = checked > 0 && checked < boxes.length;
  }
  Array.prototype.forEach.call(document.querySelectorAll("input[type=checkbox][data-check-all]"), function (all) {
    var group = all.getAttribute("data-check-all"), boxes = rows(group);
    if (!boxes.length) return;  /* an empty queue: nothing to check, the box stays hidden */
    all.hidden = false;
    all.addEventListener("change", function () {
      boxes.forEach(function (box) { box.checked = all.checked; });
      all.indeterminate = false;
    });
    boxes.forEach(function (box) { box.addEventListener("change", function () { reflect(all); }); });
    reflect(all);
  });
})();
