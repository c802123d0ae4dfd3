// The nurses' triage board: a ranked list kept live by the /hubs/triage SignalR hub.
// One scope of its own: the libraries' scripts declare short globals (signalr.min.js has a top-level `t`).
(() => {
'use strict';

const { t, el } = Common;
const alerts = new Map();          // id -> the newest AlertView received
let boardVersion = 0;              // the snapshot's sequence number: older pushes are ignored
let selectedId = null;
window.boardLoadedAt = Date.now(); // tests check the page was never reloaded

const filters = {
  state: document.getElementById('filter-state'),
  severity: document.getElementById('filter-severity'),
  team: document.getElementById('filter-team'),
  zone: document.getElementById('filter-zone'),
};

function visible(alert) {
  const state = filters.state.value;
  if (state === 'active' ? ['closed', 'snoozed'].includes(alert.state) : alert.state !== state) return false;
  return (!filters.severity.value || alert.severity === filters.severity.value)
    && (!filters.team.value || alert.team === filters.team.value)
    && (!filters.zone.value || alert.zone === filters.zone.value);
}

// A snoozed alert counts as snoozed only until its time: the board re-evaluates without waiting for the server.
function withCurrentState(alert) {
  if (alert.state === 'snoozed' && alert.snoozedUntil && new Date(alert.snoozedUntil) <= new Date()) {
    return { ...alert, state: alert.escalatedAt ? 'escalated' : alert.acknowledgedAt ? 'acknowledged' : alert.claimedBy ? 'claimed' : 'new' };
  }
  return alert;
}

function ranked() {
  return [...alerts.values()].map(withCurrentState).filter(visible)
    .sort((a, b) => b.rank - a.rank || a.openedAt.localeCompare(b.openedAt) || a.id - b.id);
}

function fillOptions(select, values) {
  const current = select.value;
  const first = select.options[0];
  select.replaceChildren(first, ...[...values].filter(Boolean).sort().map(v => el('option', { value: v, textContent: v })));
  select.value = current;
}

function render(freshId) {
  fillOptions(filters.team, new Set([...alerts.values()].map(a => a.team)));
  fillOptions(filters.zone, new Set([...alerts.values()].map(a => a.zone)));
  const rows = ranked();
  const body = document.querySelector('#alerts tbody');
  body.replaceChildren(...rows.map(alert => el('tr', {
      dataset: { alertId: alert.id, patientId: alert.patientId, severity: alert.severity, state: alert.state },
      className: (alert.id === selectedId ? 'selected ' : '') + (alert.id === freshId ? 'fresh' : ''),
      onclick: () => select(alert.id),
    },
    el('td', {}, el('span', { className: `sev ${alert.severity}`, textContent: t(alert.severity) })),
    el('td', {}, el('a', { href: `/patients/${encodeURIComponent(alert.patientId)}`, textContent: alert.patientName, onclick: e => e.stopPropagation() }),
      el('div', { className: 'muted small', textContent: [alert.zone, alert.team].filter(Boolean).join(' · ') })),
    el('td', { className: 'risk', title: t('riskProbability'), textContent: Common.percent(alert.patientRisk ?? alert.risk) }),
    el('td', { className: 'reason', textContent: Common.text(alert.reason) },
      alert.conditionEndedAt ? el('div', { className: 'muted small', textContent: t('conditionEnded') }) : null),
    el('td', { textContent: Common.waiting(alert.openedAt) }),
    el('td', { className: 'state', textContent: t(alert.state) + (alert.claimedBy ? ` — ${alert.claimedBy}` : '') }),
    el('td', {}, alert.claimedBy || alert.state === 'closed' ? null
      : el('button', { type: 'button', className: 'action claim', textContent: t('claim'), onclick: e => { e.stopPropagation(); act(alert.id, 'claim'); } })))));
  document.getElementById('empty').hidden = rows.length > 0;
  document.getElementById('count').textContent = `${rows.length}`;
  renderDetail();
}

function apply(alert) {
  const known = alerts.get(alert.id);
  if (known && known.version >= alert.version) return;
  alerts.set(alert.id, alert);
  render(known ? null : alert.id);
  if (alert.severity === 'critical' && known?.severity !== 'critical' && alert.state !== 'closed') beep();
}

// Sound on new critical alerts, off unless the nurse turns it on (a shared screen in a quiet office must not ring).
// Browsers let a page play sound only after a gesture on it: the click that turns it on creates the audio context,
// and a board reopened with the sound on asks for one click to re-arm it.
const sound = {
  button: document.getElementById('sound'),
  audio: null,
  on: () => localStorage.getItem('telesuivi.sound') === 'on',
  show() {
    const on = sound.on();
    const armed = sound.audio?.state === 'running';
    sound.button.textContent = t(on ? 'soundOn' : 'soundOff') + (on && !armed ? ` — ${t('soundArm')}` : '');
    sound.button.setAttribute('aria-pressed', String(on));
    sound.button.dataset.sound = on ? (armed ? 'on' : 'unarmed') : 'off';
  },
  async toggle() {
    const armed = sound.audio?.state === 'running';
    if (sound.on() && armed) {
      localStorage.setItem('telesuivi.sound', 'off');
    } else {
      localStorage.setItem('telesuivi.sound', 'on');
      try {
        sound.audio ??= new AudioContext();
        await sound.audio.resume();
      } catch { /* no audio device: the board works without sound */ }
    }
    sound.show();
  },
};
sound.button.addEventListener('click', () => sound.toggle());

function beep() {
  if (!sound.on()) return;
  document.body.dataset.beeps = String(Number(document.body.dataset.beeps ?? 0) + 1);
  try {
    const tone = sound.audio.createOscillator();
    tone.connect(sound.audio.destination);
    tone.frequency.value = 880;
    tone.start();
    tone.stop(sound.audio.currentTime + 0.25);
  } catch { /* not armed yet, or no audio device: the row is still highlighted */ }
}

async function loadSnapshot(connection) {
  const snapshot = await connection.invoke('GetSnapshot', filters.state.value === 'closed');
  alerts.clear();
  snapshot.alerts.forEach(a => alerts.set(a.id, a));
  boardVersion = snapshot.version;
  render();
}

function message(text, ok = false) {
  const box = document.getElementById('message');
  box.textContent = text;
  box.className = ok ? 'ok' : '';
}

async function act(id, step, body) {
  try {
    const alert = await Common.api('POST', `/api/alerts/${id}/${step}`, body);
    apply(alert);
    message(`${t(step)} ✓`, true);
    return alert;
  } catch (error) {
    message(error.message);
  }
}

function select(id) {
  selectedId = id;
  // A row is not focusable: without this, the filter last used keeps the focus and swallows the shortcuts.
  if (document.activeElement?.matches('select, input')) document.activeElement.blur();
  render();
}

async function renderDetail() {
  const panel = document.getElementById('detail');
  const alert = selectedId === null ? null : alerts.get(selectedId);
  if (!alert) { panel.hidden = true; return; }
  panel.hidden = false;
  if (panel.dataset.alertId === String(alert.id) && panel.dataset.version === String(alert.version) && panel.dataset.lang === Common.lang) return;
  panel.dataset.alertId = alert.id;
  panel.dataset.version = alert.version;
  panel.dataset.lang = Common.lang;
  const mine = alert.claimedBy && alert.claimedBy === Common.user();
  const closed = alert.state === 'closed';
  const button = (step, primary, disabled) => el('button', { type: 'button', className: `action ${step}${primary ? ' primary' : ''}`, textContent: t(step), disabled, onclick: () => act(alert.id, step) });
  const outcome = el('select', { name: 'outcome' }, ...['false-alarm', 'managed-at-home', 'home-visit', 'hospitalised', 'confirmed-exacerbation'].map(o => el('option', { value: o, textContent: t(o) })));
  const note = el('input', { type: 'text', name: 'note', placeholder: t('note') });
  const minutes = el('input', { type: 'number', name: 'minutes', min: 5, value: 60, size: 4 });
  const reached = el('input', { type: 'checkbox', name: 'reached', checked: true });
  const sparks = el('div', { className: 'sparks' });
  panel.replaceChildren(
    el('h2', {}, el('span', { className: `sev ${alert.severity}`, textContent: t(alert.severity) }), ' ', alert.patientName),
    el('p', { textContent: Common.text(alert.reason) }),
    el('p', { className: 'muted small', textContent: `${t(alert.state)}${alert.claimedBy ? ` ${t('by')} ${alert.claimedBy}` : ''}${alert.escalatedTo ? ` · ${t('escalated')} ${t('to')} ${alert.escalatedTo}` : ''}${alert.snoozedUntil && alert.state === 'snoozed' ? ` · ${t('until')} ${Common.time(alert.snoozedUntil)}` : ''} · ${t('rank')} ${alert.rank}` }),
    el('div', { className: 'buttons' },
      button('claim', true, !!alert.claimedBy || closed), button('acknowledge', false, !mine || !!alert.acknowledgedAt),
      button('escalate', false, !mine || !!alert.escalatedAt), button('release', false, !mine),
      el('a', { className: 'action', href: `/patients/${encodeURIComponent(alert.patientId)}`, textContent: t('openPatient') })),
    el('form', { onsubmit: e => { e.preventDefault(); if (note.value.trim()) act(alert.id, 'notes', { text: note.value }).then(() => { note.value = ''; }); } },
      note, el('button', { type: 'submit', className: 'action', textContent: t('note') }),
      el('button', { type: 'button', className: 'action', textContent: t('call'), disabled: !mine, onclick: () => act(alert.id, 'calls', { summary: note.value || t('call'), reached: reached.checked }) }),
      el('label', { className: 'small' }, reached, ' ', t('reached'))),
    el('form', { onsubmit: e => { e.preventDefault(); act(alert.id, 'snooze', { minutes: Number(minutes.value), reason: note.value }); } },
      minutes, el('span', { textContent: t('minutes') }), el('button', { type: 'submit', className: 'action', textContent: t('snooze'), disabled: !mine })),
    el('form', { onsubmit: e => { e.preventDefault(); act(alert.id, 'resolve', { outcome: outcome.value, note: note.value }); } },
      el('span', { textContent: t('outcome') }), outcome, el('button', { type: 'submit', className: 'action primary', textContent: t('resolve'), disabled: !mine })),
    el('h3', { textContent: t('evidence') }),
    el('ul', { id: 'detail-evidence' }, ...alert.evidence.map(e => el('li', { textContent: evidenceLine(e) }))),
    el('h3', { textContent: t('recentVitals') }), sparks,
    el('h3', { textContent: t('actions') }), el('ol', { className: 'actions', id: 'detail-actions' }));
  try {
    const [trends, detail] = await Promise.all([
      Common.api('GET', `/api/patients/${encodeURIComponent(alert.patientId)}/trends?range=24h`),
      Common.api('GET', `/api/alerts/${alert.id}`)]);
    for (const chart of trends.charts) {
      const series = chart.series[0];
      if (!series || series.points.length === 0) continue;
      const canvas = el('canvas');
      const last = series.points[series.points.length - 1].mean;
      sparks.append(el('div', { className: 'spark' }, el('div', { className: 'label', textContent: `${Common.text(chart.name)} ${Math.round(last * 10) / 10} ${chart.unit}` }), canvas));
      Common.sparkline(canvas, series.points);
    }
    document.getElementById('detail-actions')?.replaceChildren(...detail.actions.map(a =>
      el('li', { textContent: `${Common.time(a.at)} — ${t(a.action)} — ${a.actor}${a.detail ? ` — ${a.detail}` : ''}` })));
  } catch (error) {
    message(error.message);
  }
}

// One fact behind the alert, in the board's language (risk reasons and rejected readings carry their own French, detailFr).
function evidenceLine(e) {
  const value = e.value !== null && e.value !== undefined ? ` ${e.value} ${Common.evidence(e.unit) ?? ''}` : '';
  const detail = e.detail ? ` — ${Common.lang === 'fr' && e.detailFr ? e.detailFr : Common.evidence(e.detail)}` : '';
  return `${Common.time(e.time)} — ${Common.evidence(e.label)}${value}${detail}`;
}

function move(delta) {
  const rows = ranked();
  if (rows.length === 0) return;
  const index = rows.findIndex(a => a.id === selectedId);
  select(rows[Math.min(rows.length - 1, Math.max(0, index + delta))].id);
  document.querySelector('#alerts tr.selected')?.scrollIntoView({ block: 'nearest' });
}

document.addEventListener('keydown', event => {
  if (event.target.matches('input, select, textarea') || event.ctrlKey || event.metaKey || event.altKey) return;
  const key = event.key;
  const steps = { c: 'claim', a: 'acknowledge', r: 'release', e: 'escalate' };
  if (key === 'ArrowDown' || key === 'j') move(1);
  else if (key === 'ArrowUp' || key === 'k') move(-1);
  else if (steps[key] && selectedId !== null) act(selectedId, steps[key]);
  else if (key === 'n' && selectedId !== null) document.querySelector('#detail input[name=note]')?.focus();
  else if (key === 'Enter' && selectedId !== null) location.href = `/patients/${encodeURIComponent(alerts.get(selectedId).patientId)}`;
  else if (key === '?') message(t('shortcuts'), true);
  else return;
  event.preventDefault();
});

// One connection for the page's life: a connection that closes is started again (not rebuilt), so the filters, the
// once-a-minute refresh and the handlers are wired once, however often the server goes away.
const connection = new signalR.HubConnectionBuilder().withUrl('/hubs/triage')
  .withAutomaticReconnect({ nextRetryDelayInMilliseconds: c => Math.min(10000, 500 * 2 ** c.previousRetryCount) }).build();
const badge = document.getElementById('connection');

function showConnection(live) {
  badge.textContent = t(live ? 'live' : 'offline');
  badge.className = `badge ${live ? 'Healthy' : 'Unhealthy'}`;
}

connection.on('AlertChanged', alert => { if (alert.version > boardVersion || alerts.has(alert.id)) apply(alert); });
connection.onreconnecting(() => showConnection(false));
connection.onreconnected(async () => { showConnection(true); await loadSnapshot(connection); });
connection.onclose(() => { showConnection(false); setTimeout(start, 5000); });
Object.values(filters).forEach(f => f.addEventListener('change', () => f === filters.state ? loadSnapshot(connection) : render()));
// Waiting times grow and snoozes end: re-rank from a fresh snapshot every minute.
setInterval(() => { if (connection.state === signalR.HubConnectionState.Connected) loadSnapshot(connection).catch(() => {}); }, 60000);

async function start() {
  try {
    await connection.start();
    showConnection(true);
    await loadSnapshot(connection);
  } catch (error) {
    showConnection(false);
    message(error.message);
    setTimeout(start, 5000);
  }
}

Common.init(() => { message(''); sound.show(); showConnection(connection.state === signalR.HubConnectionState.Connected); render(); });
sound.show();
start();
})();
