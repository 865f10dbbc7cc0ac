import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A clinic's own website on another loopback port: one page with CareCall's script tag, and the
 * clinic backend's session endpoint, which calls CareCall server to server with the clinic API key
 * (the key never reaches the browser). Events from the widget are collected in window.widgetEvents.
 */
export async function startWidgetHost(opts: {
  carecallUrl: string;
  apiKey: string;
  clinicId: string;
  appointmentId: string;
  externalPatientId: string;
  mode?: 'inline' | 'button';
}): Promise<{ url: string; close: () => Promise<void> }> {
  const page = `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Clinic A: video consultation</title>
<style>body{font-family:system-ui,sans-serif;margin:0;background:#f4f1ea;color:#222}
header{background:#0a7d5c;color:#fff;padding:1rem 2rem}main{max-width:960px;margin:1.5rem auto;padding:0 1rem}
.carecall-widget{border:1px solid #ccc;border-radius:8px;overflow:hidden;background:#fff}</style></head>
<body><header><h1>Clinic A</h1><p>Your appointment today with Dr. Example</p></header>
<main><p>Check your camera, then join: the doctor lets you in from the waiting room.</p>
<script>
  window.widgetEvents = [];
  for (const name of ['ready', 'joined', 'admitted', 'left', 'ended', 'error'])
    document.addEventListener('carecall:' + name, (e) => window.widgetEvents.push({ name, detail: e.detail }));
</script>
<script src="${opts.carecallUrl}/embed/widget.js" data-clinic="${opts.clinicId}"
  data-session-url="/carecall-session" data-mode="${opts.mode ?? 'inline'}" data-height="560px"></script>
</main></body></html>`;
  const server: Server = createServer((req, res) => {
    if (req.method === 'POST' && req.url === '/carecall-session') {
      void fetch(`${opts.carecallUrl}/api/widget/sessions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${opts.apiKey}`, 'content-type': 'application/json' },
        body: JSON.stringify({
          externalPatientId: opts.externalPatientId,
          appointmentId: opts.appointmentId,
        }),
      })
        .then(async (r) => {
          const body = (await r.json()) as { token?: string };
          res.writeHead(r.ok ? 200 : 502, { 'content-type': 'application/json' });
          res.end(JSON.stringify(r.ok ? { token: body.token } : { error: 'session refused' }));
        })
        .catch(() => {
          res.writeHead(502).end();
        });
      return;
    }
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end(page);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
