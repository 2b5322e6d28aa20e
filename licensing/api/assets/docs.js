// Renders /api/v1/schema (OpenAPI 3) as a plain page: no framework, no CDN.
(function () {
  "use strict";
  var root = document.getElementById("api");

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    (children || []).forEach(function (c) {
      node.appendChild(typeof c === "string" ? document.createTextNode(c) : c);
    });
    return node;
  }

  function resolve(schema, doc, depth) {
    if (!schema || depth > 8) { return schema; }
    if (schema.$ref) {
      var name = schema.$ref.split("/").pop();
      return resolve(doc.components.schemas[name], doc, depth + 1);
    }
    return schema;
  }

  // An example-like JSON skeleton of a schema, so the page shows field names and nesting.
  function skeleton(schema, doc, depth) {
    schema = resolve(schema, doc, depth);
    if (!schema || depth > 8) { return null; }
    if (schema.allOf) { return skeleton(schema.allOf[0], doc, depth + 1); }
    if (schema.type === "object" || schema.properties) {
      var out = {};
      Object.keys(schema.properties || {}).forEach(function (k) { out[k] = skeleton(schema.properties[k], doc, depth + 1); });
      return out;
    }
    if (schema.type === "array") { return [skeleton(schema.items, doc, depth + 1)]; }
    if (schema.enum) { return schema.enum.filter(function (v) { return v !== null; }).join(" | "); }
    return schema.type || "any";
  }

  function body(title, schema, doc) {
    return el("div", {}, [el("strong", {}, [title]),
      el("pre", {}, [JSON.stringify(skeleton(schema, doc, 0), null, 2)])]);
  }

  function operation(path, method, op, doc) {
    var box = el("div", {"class": "op"}, [
      el("h2", {}, [el("span", {"class": "method " + method}, [method.toUpperCase()]), el("code", {}, [path])]),
      el("p", {}, [op.summary || op.operationId || ""]),
    ]);
    var params = (op.parameters || []).filter(function (p) { return p.in === "query"; });
    if (params.length) {
      var rows = params.map(function (p) {
        return el("tr", {}, [el("td", {}, [el("code", {}, [p.name])]),
          el("td", {}, [(p.schema && p.schema.type) || ""]), el("td", {}, [p.description || ""])]);
      });
      box.appendChild(el("table", {}, [el("tr", {}, [el("th", {}, ["query"]), el("th", {}, ["type"]),
        el("th", {}, ["description"])])].concat(rows)));
    }
    var request = op.requestBody && op.requestBody.content && op.requestBody.content["application/json"];
    if (request) { box.appendChild(body("Request body", request.schema, doc)); }
    Object.keys(op.responses || {}).forEach(function (code) {
      var content = op.responses[code].content && op.responses[code].content["application/json"];
      if (content) { box.appendChild(body("Response " + code, content.schema, doc)); }
    });
    return box;
  }

  fetch("schema?format=json", {headers: {"Accept": "application/json"}})
    .then(function (r) { if (!r.ok) { throw new Error("HTTP " + r.status); } return r.json(); })
    .then(function (doc) {
      root.textContent = "";
      Object.keys(doc.paths).forEach(function (path) {
        Object.keys(doc.paths[path]).forEach(function (method) {
          root.appendChild(operation(path, method, doc.paths[path][method], doc));
        });
      });
    })
    .catch(function (err) { root.textContent = "Could not load the schema: " + err.message; });
})();
