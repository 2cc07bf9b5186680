// Starts Swagger UI on #swagger-ui with the OpenAPI document its data-openapi-url names.
// A file of its own (not an inline script), so the page's CSP allows scripts of 'self' only.
(function () {
  "use strict";
  var root = document.getElementById("swagger-ui");
  window.ui = window.SwaggerUIBundle({
    url: root.getAttribute("data-openapi-url"),
    dom_id: "#swagger-ui",
    layout: "BaseLayout",
    presets: [window.SwaggerUIBundle.presets.apis],
    deepLinking: true,
    displayOperationId: true,
    showExtensions: true,
    showCommonExtensions: true,
    // Offline: never ask the public validator service about the document.
    validatorUrl: null,
  });
})();
