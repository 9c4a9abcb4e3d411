// The place of one case on a small map.
(function () {
  "use strict";
  var el = document.getElementById("case-map");
  if (!el) return;
  var at = [parseFloat(el.dataset.lat), parseFloat(el.dataset.lon)];
  var map = L.map(el, { minZoom: 3, maxZoom: 18 }).setView(at, 13);
  if (el.dataset.tiles) L.tileLayer(el.dataset.tiles, { maxZoom: 18 }).addTo(map);
  L.circleMarker(at, { radius: 8, color: "#8b0000", fillOpacity: 0.8 }).addTo(map);
  L.circle(at, { radius: 300, color: "#1f5f4a", fill: false }).addTo(map);
})();
