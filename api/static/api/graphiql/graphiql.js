/* GraphiQL for Rendezvous, started from a file (no inline script, so a strict
 * Content-Security-Policy can allow 'self' only).
 *
 * - Every request reads the csrftoken cookie afresh: `login` rotates it, and a token read once
 *   at page load would make every request after signing in fail with CSRF_FAILED.
 * - Headers typed in the headers pane (a pasted `Authorization: Bearer ...`) stay in memory
 *   only; they are kept in localStorage only if the user turns on "Persist headers" in
 *   GraphiQL's settings.
 */
(function () {
  "use strict";

  var container = document.getElementById("graphiql");
  var endpoint = container.getAttribute("data-endpoint") || window.location.pathname;

  var DEFAULT_QUERY = [
    "# Rendezvous GraphQL API. Run with Ctrl-Enter; Ctrl-Space completes; the Docs pane",
    "# (book icon) describes every type and field.",
    "#",
    "# Sign in (a session cookie) with the demo client of `make run`:",
    "#",
    "#   mutation { login(email: \"client@example.com\", password: \"rendezvous-demo\") {",
    "#     ... on User { email } ... on OperationInfo { messages { code message } } } }",
    "#",
    "# or paste {\"Authorization\": \"Bearer rdv_...\"} in the Headers pane below (kept in",
    "# this tab only, unless you turn on \"Persist headers\" in the settings).",
    "",
    "query Providers {",
    "  me { email }",
    "  providers(first: 5) { edges { node { id name timeZone } } }",
    "}",
    "",
  ].join("\n");

  function cookie(name) {
    var prefix = name + "=";
    var parts = document.cookie ? document.cookie.split(";") : [];
    for (var i = 0; i < parts.length; i++) {
      var part = parts[i].trim();
      if (part.indexOf(prefix) === 0) {
        return decodeURIComponent(part.slice(prefix.length));
      }
    }
    return null;
  }

  function fetcher(params, options) {
    var headers = { "Content-Type": "application/json", Accept: "application/json" };
    var csrf = cookie("csrftoken"); // read now, not at page load: login rotates it
    if (csrf) {
      headers["X-CSRFToken"] = csrf;
    }
    var extra = (options && options.headers) || {};
    Object.keys(extra).forEach(function (key) {
      headers[key] = extra[key];
    });
    return fetch(endpoint, {
      method: "POST",
      headers: headers,
      body: JSON.stringify(params),
      credentials: "same-origin",
    }).then(function (response) {
      return response.text().then(function (text) {
        try {
          return JSON.parse(text);
        } catch (error) {
          return {
            errors: [{ message: "HTTP " + response.status + ": " + text.slice(0, 500) }],
          };
        }
      });
    });
  }

  var root = ReactDOM.createRoot(container);
  root.render(
    React.createElement(GraphiQL, {
      fetcher: fetcher,
      defaultQuery: DEFAULT_QUERY,
      defaultEditorToolsVisibility: true,
      isHeadersEditorEnabled: true,
      shouldPersistHeaders: false,
      showPersistHeadersSettings: true,
      inputValueDeprecation: true,
    })
  );
})();
