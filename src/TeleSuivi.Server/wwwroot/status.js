// Polls the status and readiness endpoints; the live SignalR board replaces this page's tiles.
const format = new Intl.NumberFormat();

// Who is signed in, and the anti-forgery token of the sign-out form.
async function showSession() {
  const response = await fetch('/api/me');
  if (!response.ok) return;
  const me = await response.json();
  document.getElementById('user').textContent = `${me.name} (${me.role}${me.teams.length ? ', ' + me.teams.join(', ') : ''})`;
  document.getElementById('logoutToken').value = me.logoutToken;
  document.getElementById('logout').hidden = false;
}

async function refresh() {
  try {
    const response = await fetch('/api/status');
    if (response.status === 401) {
      // The session expired: back to the login page, then here.
      location.href = '/login?returnUrl=' + encodeURIComponent(location.pathname);
      return;
    }
    const status = await response.json();
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

showSession();
refresh();
setInterval(refresh, 2000);
