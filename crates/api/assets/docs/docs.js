// Starts Swagger UI on this server's OpenAPI document. It is a file of its
// own, not an inline script, so the page's Content-Security-Policy can forbid
// inline code altogether.
'use strict';

window.ui = SwaggerUIBundle({
  url: '/openapi.json',
  dom_id: '#swagger-ui',
  deepLinking: true,
  // The base layout: no top bar whose box would load any document by URL.
  presets: [SwaggerUIBundle.presets.apis],
  layout: 'BaseLayout',
  // Never ask validator.swagger.io about the document (the policy would
  // refuse the request anyway).
  validatorUrl: null,
  // Ignore ?url= and ?configUrl= in the address: the page shows this
  // server's document only.
  queryConfigEnabled: false,
});
