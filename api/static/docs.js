// Render /api/openapi.json with the vendored Swagger UI; nothing is fetched
// from elsewhere (validatorUrl: null turns off the badge that would call
// validator.swagger.io). "Authorize" takes a bearer token for "Try it out".
window.onload = function () {
  window.ui = SwaggerUIBundle({
    url: "/api/openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    validatorUrl: null,
    presets: [SwaggerUIBundle.presets.apis],
  });
};
