/* The designer's preview frames (loaded before the snippet).

   Focus: the snippet moves focus into a modal when it opens (its focus trap). In a preview that
   reloads after every edit, that would take the keyboard from the field the designer is typing in,
   and the next keystrokes would land in the preview. So a frame moves focus only once the designer
   is in it (clicked into the preview); the message is drawn the same either way.

   Links: the message's call to action points at the shop's pages, which are not here, so following
   one is stopped; the snippet still sees the click. */
(function () {
  "use strict";
  var focus = HTMLElement.prototype.focus;
  HTMLElement.prototype.focus = function () {
    if (document.hasFocus()) return focus.apply(this, arguments);
  };
  document.addEventListener("click", function (e) {
    var path = e.composedPath ? e.composedPath() : [];
    for (var i = 0; i < path.length; i++) {
      if (path[i].tagName === "A") { e.preventDefault(); return; }
    }
  }, true);
})();
