// hello-node: a small HTTP server for `staticize node`. It uses one npm package
// (escape-html), so staticize bundles it with esbuild before it becomes a single executable.
'use strict';

const http = require('node:http');
const escapeHtml = require('escape-html');

const port = Number(process.env.PORT || 8080);

const server = http.createServer((req, res) => {
  const url = new URL(req.url, 'http://localhost');
  const name = url.searchParams.get('name') || 'world';
  res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
  res.end(`<p>Hello, ${escapeHtml(name)}!</p>\n`);
});

server.listen(port, () => {
  console.log(`hello-node listening on port ${port}`);
});

// Scratch images have no init: stop cleanly on the signals docker and podman send.
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => server.close(() => process.exit(0)));
}
