// The bench's front on the stock Letta's LETTA_MEMFS_SERVICE_URL (floor.ts starts it). Its own process: the bench
// runs git synchronously, which would stall a server in its event loop. Settings come on stdin as JSON; the floor
// agents come as IPC messages; the port goes out as the first stdout line.
import { spawn } from 'node:child_process';
import { appendFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';

const { memfsRoot, secret, servePort, port, traceFile } = JSON.parse(await new Promise((r) => {
  let s = '';
  process.stdin.on('data', (c) => (s += c)).on('end', () => r(s));
}));
const floorAgents = new Set();
process.on('message', (m) => {
  floorAgents.add(m.floor);
  process.send({ added: m.floor });
});

/** Lines in src/core/trace.ts's format. */
function trace(event, agent) {
  if (traceFile) appendFileSync(traceFile, `${(performance.timeOrigin + performance.now()).toFixed(1)} ${process.pid} ${event} ${agent}\n`);
}

const PATH = /^\/([^/]+)\/git\/(agent-[0-9a-f-]{36})\/state\.git\/(info\/refs|git-upload-pack|git-receive-pack)$/;

/** git http-backend for one request, as CGI (git-http-backend(1)); repo.git as a plain receive needs it, no hooks. */
function cgi(req, res, agent, rest, query) {
  const org = String(req.headers['x-organization-id'] ?? '');
  if (!/^org-[0-9a-f-]{36}$/.test(org)) return void res.writeHead(400).end('no org\n');
  const rpc = rest === 'git-receive-pack';
  if (rpc) trace('floor.rpc.start', agent);
  const config = [['http.receivepack', 'true'], ['receive.denyCurrentBranch', 'ignore'], ['gc.auto', '0'], ['receive.autogc', 'false'], ['core.hooksPath', '/dev/null']];
  const env = {
    PATH: process.env.PATH,
    GIT_PROJECT_ROOT: path.join(memfsRoot, 'repository', org),
    GIT_HTTP_EXPORT_ALL: '1',
    REQUEST_METHOD: req.method,
    PATH_INFO: `/${agent}/repo.git/${rest}`,
    QUERY_STRING: query,
    CONTENT_TYPE: String(req.headers['content-type'] ?? ''),
    GIT_CONFIG_COUNT: String(config.length),
  };
  config.forEach(([k, v], i) => {
    env[`GIT_CONFIG_KEY_${i}`] = k;
    env[`GIT_CONFIG_VALUE_${i}`] = v;
  });
  if (req.headers['content-length']) env.CONTENT_LENGTH = String(req.headers['content-length']);
  if (req.headers['content-encoding']) env.HTTP_CONTENT_ENCODING = String(req.headers['content-encoding']);
  if (req.headers['git-protocol']) env.GIT_PROTOCOL = String(req.headers['git-protocol']);
  const child = spawn('git', ['http-backend'], { env, stdio: ['pipe', 'pipe', 'pipe'] });
  req.pipe(child.stdin);
  child.stdin.on('error', () => undefined);
  let head = Buffer.alloc(0);
  let done = false;
  child.stdout.on('data', (chunk) => {
    if (done) return void res.write(chunk);
    head = Buffer.concat([head, chunk]);
    const sep = head.indexOf('\r\n\r\n');
    if (sep < 0) return;
    done = true;
    let status = 200;
    const headers = {};
    for (const line of head.subarray(0, sep).toString('latin1').split('\r\n')) {
      const i = line.indexOf(':');
      if (i < 0) continue;
      const k = line.slice(0, i).trim();
      if (k.toLowerCase() === 'status') status = parseInt(line.slice(i + 1), 10) || 500;
      else headers[k] = line.slice(i + 1).trim();
    }
    res.writeHead(status, headers);
    res.write(head.subarray(sep + 4));
  });
  child.on('close', () => {
    if (rpc) trace('floor.rpc.end', agent);
    if (!done) res.writeHead(500).end('http-backend failed\n');
    else res.end();
  });
}

/** Forwards a request to serve unchanged (path, headers, body), streaming both ways. */
function forward(req, res) {
  const out = http.request({ host: '127.0.0.1', port: servePort, method: req.method, path: req.url, headers: req.headers }, (r) => {
    res.writeHead(r.statusCode ?? 502, r.headers);
    r.pipe(res);
  });
  out.on('error', () => (res.headersSent ? res.destroy() : res.writeHead(502).end()));
  req.pipe(out);
}

const server = http.createServer((req, res) => {
  const [p, query = ''] = (req.url ?? '').split('?');
  const m = PATH.exec(p);
  if (m && m[1] === secret && floorAgents.has(m[2])) cgi(req, res, m[2], m[3], query);
  else forward(req, res);
});
server.listen(port, '127.0.0.1', () => process.stdout.write(JSON.stringify({ port: server.address().port }) + '\n'));
process.on('SIGTERM', () => process.exit(0));
process.on('disconnect', () => process.exit(0));
