// Polls the status and readiness endpoints; the live SignalR board replaces this page's tiles.
const format = new Intl.NumberFormat();

async function refresh() {
  try {
    const status = await (await fetch('/api/status')).json();
    for (const key of ['messages', 'observations', 'deadLettered', 'queued']) {
      document.getElementById(key).textContent = format.format(status.ingest[key]);
    }
    const ready = await (await fetch('/health/ready')).json();
    const badge = document.getElementById('health');
    badge.textContent = ready.status === 'Healthy' ? 'ready' : 'not ready';
    badge.className = 'badge ' + ready.status;
    const body = document.querySelector('#checks tbody');
    body.replaceChildren(...Object.entries(ready.checks).map(([name, check]) => {
      const row = document.createElement('tr');
      for (const [text, cls] of [[name, ''], [check.status, check.status], [check.description ?? '', '']]) {
        const cell = row.insertCell();
        cell.textContent = text;
        if (cls) cell.className = cls;
      }
      return row;
    }));
  } catch (e) {
    document.getElementById('health').textContent = 'unreachable';
  }
}

refresh();
setInterval(refresh, 2000);
