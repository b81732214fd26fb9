// Starts Swagger UI on the API's own OpenAPI document. Kept out of docs.html
// so the page's Content-Security-Policy can forbid inline scripts.
window.addEventListener("load", function () {
  window.ui = SwaggerUIBundle({
    url: "/v1/openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    validatorUrl: null,          // never call the public validator
    persistAuthorization: false, // the token stays in this tab's memory only
    displayRequestDuration: true,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
  });
});
