// Draws the graph embedded in the page (#graph-data) with the vendored Cytoscape.js.
// data-graph="system": one system's map coloured by validation status, nodes link to their page.
// data-graph="aggregate": the whole catalog as one node per system, edges counting lineage.
(function () {
  "use strict";
  // Fills dark enough for white text (contrast 4.5:1 or more): green, burnt orange, slate.
  var COLOURS = { ok: "#2e7d32", gaps: "#a35200", missing: "#c62828" };
  var INK = "#1d2733";
  var FONT = "10px system-ui, -apple-system, 'Segoe UI', sans-serif";
  var LABEL_WIDTH = 136;

  // How many lines a label takes at LABEL_WIDTH, so a node is tall enough for all of them.
  var measure = null;
  function lineCount(text) {
    if (!measure) { measure = document.createElement("canvas").getContext("2d"); measure.font = FONT; }
    var ctx = measure;
    return text.split("\n").reduce(function (n, line) {
      var lines = 1, width = 0;
      line.split(" ").forEach(function (word) {
        var w = ctx.measureText(word + " ").width;
        if (width + w > LABEL_WIDTH && width > 0) { lines += 1; width = 0; }
        width += w;
      });
      return n + lines;
    }, 0);
  }

  function systemElements(data) {
    var nodes = data.nodes.map(function (n) {
      var label = n.kind + "\n" + n.title;
      return { data: { id: n.ref, label: label, status: n.status, href: n.href || "",
                       external: n.external ? 1 : 0, height: 14 + 13 * lineCount(label) } };
    });
    var edges = data.edges.map(function (e, i) {
      return { data: { id: "e" + i, source: e.from, target: e.to } };
    });
    return nodes.concat(edges);
  }

  function aggregateElements(data) {
    var nodes = data.nodes.map(function (n) {
      var label = (n.title || n.id) + "\n" + n.size + " nodes" +
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
          "label": "data(label)", "text-wrap": "wrap", "text-max-width": LABEL_WIDTH, "font-size": 10,
          "text-valign": "center", "color": "#fff", "shape": "round-rectangle",
          "width": aggregate ? "data(size)" : 150, "height": aggregate ? "data(size)" : "data(height)",
          "background-color": function (n) { return COLOURS[n.data("status")] || "#546e7a"; } } },
        // the whole catalog: a system's label sits below its node, dark on a white plate,
        // since a small node cannot hold it
        { selector: "node[size]", style: { "text-valign": "bottom", "text-margin-y": 4, "color": INK,
          "text-background-color": "#fff", "text-background-opacity": 1, "text-background-padding": 2,
          "text-background-shape": "round-rectangle" } },
        { selector: "node[status = 'missing']", style: { "border-style": "dashed", "border-width": 2,
          "border-color": "#c62828", "background-color": "#fff", "color": "#c62828" } },
        { selector: "node[external = 1]", style: { "border-style": "dotted", "border-width": 3,
          "border-color": INK } },
        { selector: "edge", style: { "width": 1.5, "curve-style": "bezier", "target-arrow-shape": "triangle",
          "line-color": "#78909c", "target-arrow-color": "#78909c" } },
        { selector: "edge[label]", style: { "label": "data(label)", "font-size": 9, "color": INK,
          "text-background-color": "#fff", "text-background-opacity": 1 } }
      ],
      layout: aggregate ? { name: "cose", animate: false, nodeDimensionsIncludeLabels: true, padding: 24,
                            componentSpacing: 80, nodeRepulsion: function () { return 400000; } } :
        { name: "breadthfirst", directed: true, spacingFactor: 1.1, animate: false,
          transform: function (node, pos) { return { x: pos.y * 1.6, y: pos.x * 0.6 }; } }
    });
    cy.fit(cy.elements(), 24); // labels included: nothing is cut off at the edges
    cy.on("tap", "node", function (evt) {
      var href = evt.target.data("href");
      if (href) { window.location.href = href; }
    });
    box.dataset.nodes = String(cy.nodes().length);
    box.classList.add("drawn");
  }

  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", draw); } else { draw(); }
})();
