// Swagger UI for /api/openapi.json, started from a file (the pages allow no inline script).
window.addEventListener("load", () => {
  window.ui = SwaggerUIBundle({ url: "/api/openapi.json", dom_id: "#swagger-ui", deepLinking: true });
});
