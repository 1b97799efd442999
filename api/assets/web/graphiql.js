// GraphiQL on /graphql: vendored React, GraphiQL and its explorer plugin, nothing from elsewhere.
(function () {
  'use strict';
  var endpoint = new URL('/graphql', window.location.href);
  var socket = new URL('/graphql/ws', window.location.href);
  socket.protocol = socket.protocol === 'https:' ? 'wss:' : 'ws:';
  var base = GraphiQL.createFetcher({ url: endpoint.href, subscriptionUrl: socket.href });

  // The header editor starts with an empty key to paste; an empty one is not sent.
  function sent(headers) {
    var out = {};
    Object.keys(headers || {}).forEach(function (name) {
      var value = String(headers[name] == null ? '' : headers[name]).trim();
      if (value === '' || /^bearer$/i.test(value)) return;
      out[name] = value;
    });
    return out;
  }
  function fetcher(params, options) {
    var opts = Object.assign({}, options || {});
    opts.headers = sent(opts.headers);
    return base(params, opts);
  }

  var query = [
    '# La Porte du Hainaut: the whole tourist offer in one graph.',
    '# Run with Ctrl-Enter or the play button; the explorer and the docs are on the left.',
    '# To write (editors, providers), paste your API key in Headers below: "Bearer phk_…".',
    '{',
    '  totems {',
    '    name',
    '    slug',
    '    kind',
    '    correlates(first: 3) { name kind }',
    '  }',
    '  themes { code name }',
    '}',
    ''
  ].join('\n');
  var plugins = window.GraphiQLPluginExplorer ? [GraphiQLPluginExplorer.explorerPlugin()] : [];
  var root = ReactDOM.createRoot(document.getElementById('graphiql'));
  root.render(
    React.createElement(GraphiQL, {
      fetcher: fetcher,
      defaultQuery: query,
      defaultHeaders: JSON.stringify({ Authorization: 'Bearer ' }, null, 2),
      defaultEditorToolsVisibility: 'headers',
      isHeadersEditorEnabled: true,
      shouldPersistHeaders: false,
      plugins: plugins
    })
  );
})();
