/* The designer's preview frames: links in the message (its call to action) point at the shop's
   pages, which are not here, so following one is stopped; the snippet still sees the click. */
document.addEventListener("click", function (e) {
  var path = e.composedPath ? e.composedPath() : [];
  for (var i = 0; i < path.length; i++) {
    if (path[i].tagName === "A") { e.preventDefault(); return; }
  }
}, true);
