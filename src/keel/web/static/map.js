// Draws the graph embedded in the page (#graph-data) with the vendored Cytoscape.js.
// data-graph="system": one system's map coloured by validation status, nodes link to their page.
// data-graph="aggregate": the whole catalog as one node per system, edges counting lineage.
(function () {
  "use strict";
  var COLOURS = { ok: "#2e7d32", gaps: "#e08e0b", missing: "#c62828" };

  function systemElements(data) {
    var nodes = data.nodes.map(function (n) {
      return { data: { id: n.ref, label: n.kind + "\n" + n.title, status: n.status, href: n.href || "",
                       external: n.external ? 1 : 0 } };
    });
    var edges = data.edges.map(function (e, i) {
      return { data: { id: "e" + i, source: e.from, target: e.to } };
    });
    return nodes.concat(edges);
  }

  function aggregateElements(data) {
    var nodes = data.nodes.map(function (n) {
      var label = n.id.replace(/^system:default\//, "") + "\n" + n.size + " nodes" +
        (n.gaps ? " · " + n.gaps + " open" : "");
      return { data: { id: n.id, label: label, status: n.gaps ? "gaps" : "ok", href: n.href || "",
                       size: 30 + Math.min(90, Math.sqrt(n.size) * 6) } };
    });
    var edges = data.edges.map(function (e, i) {
      return { data: { id: "e" + i, source: e.from, target: e.to, label: String(e.count) } };
    });
    return nodes.concat(edges);
  }

  function draw() {
    var box = document.getElementById("map");
    var script = document.getElementById("graph-data");
    if (!box || !script || typeof cytoscape === "undefined") { return; }
    var data = JSON.parse(script.textContent);
    var aggregate = box.dataset.graph === "aggregate";
    var cy = cytoscape({
      container: box,
      elements: aggregate ? aggregateElements(data) : systemElements(data),
      wheelSensitivity: 0.3,
      maxZoom: 1.5,
      style: [
        { selector: "node", style: {
          "label": "data(label)", "text-wrap": "wrap", "text-max-width": 140, "font-size": 10,
          "text-valign": "center", "color": "#fff", "shape": "round-rectangle",
          "width": aggregate ? "data(size)" : 150, "height": aggregate ? "data(size)" : 44,
          "background-color": function (n) { return COLOURS[n.data("status")] || "#607d8b"; } } },
        { selector: "node[status = 'missing']", style: { "border-style": "dashed", "border-width": 2,
          "border-color": "#c62828", "background-color": "#fff", "color": "#c62828" } },
        { selector: "node[external = 1]", style: { "opacity": 0.6 } },
        { selector: "edge", style: { "width": 1.5, "curve-style": "bezier", "target-arrow-shape": "triangle",
          "line-color": "#90a4ae", "target-arrow-color": "#90a4ae", "label": "data(label)", "font-size": 9 } }
      ],
      layout: aggregate ? { name: "cose", animate: false } :
        { name: "breadthfirst", directed: true, spacingFactor: 1.1, animate: false,
          transform: function (node, pos) { return { x: pos.y * 1.6, y: pos.x * 0.6 }; } }
    });
    cy.on("tap", "node", function (evt) {
      var href = evt.target.data("href");
      if (href) { window.location.href = href; }
    });
    box.dataset.nodes = String(cy.nodes().length);
    box.classList.add("drawn");
  }

  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", draw); } else { draw(); }
})();
