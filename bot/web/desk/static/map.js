// The desk's map: grid cells of one level coloured by open and overdue cases, and clustered pins.
(function () {
  "use strict";
  var el = document.getElementById("map");
  var status = document.getElementById("map-status");
  var map = L.map(el, { preferCanvas: true, minZoom: 3, maxZoom: 18 }).setView([29.27, 88.88], 7);
  if (el.dataset.tiles) {
    L.tileLayer(el.dataset.tiles, { maxZoom: 18 }).addTo(map);
  }
  var cells = null;
  var pins = L.markerClusterGroup();
  map.addLayer(pins);

  function colour(p) {
    if (p.overdue > 0) return "#d9534f";
    if (p.open > 0) return "#f2c14e";
    return "#e8f1ec";
  }

  function loadCells(level) {
    fetch("/desk/map/cells.geojson?level=" + encodeURIComponent(level), { credentials: "same-origin" })
      .then(function (r) { return r.json(); })
      .then(function (geo) {
        if (cells) map.removeLayer(cells);
        cells = L.geoJSON(geo, {
          style: function (f) {
            return { color: "#1f5f4a", weight: 1, fillColor: colour(f.properties), fillOpacity: 0.55 };
          },
          onEachFeature: function (f, layer) {
            var p = f.properties;
            var box = document.createElement("div");
            var name = document.createElement("b");
            name.textContent = p.name + " (" + p.code + ")";
            box.appendChild(name);
            box.appendChild(document.createElement("br"));
            box.appendChild(document.createTextNode(
              el.dataset.openLabel + " " + p.open + " · " + el.dataset.overdueLabel + " " + p.overdue));
            layer.bindPopup(box);
          }
        }).addTo(map);
        cells.bringToBack();
        if (geo.features.length) map.fitBounds(cells.getBounds());
        el.dataset.cells = String(geo.features.length);
        status.textContent = geo.features.length + " ▦";
      });
  }

  function loadPins() {
    fetch("/desk/map/pins.json", { credentials: "same-origin" })
      .then(function (r) { return r.json(); })
      .then(function (rows) {
        pins.clearLayers();
        rows.forEach(function (row) {
          var marker = L.marker([row.lat, row.lon], { title: row.number });
          var box = document.createElement("div");
          box.appendChild(document.createTextNode(row.label));
          box.appendChild(document.createElement("br"));
          var link = document.createElement("a");
          link.href = "/desk/cases/" + encodeURIComponent(row.number);
          link.textContent = el.dataset.openCase;
          box.appendChild(link);
          marker.bindPopup(box);
          pins.addLayer(marker);
        });
        el.dataset.pins = String(rows.length);
      });
  }

  var select = document.getElementById("level");
  select.addEventListener("change", function () { loadCells(select.value); });
  loadCells(select.value);
  loadPins();
})();
