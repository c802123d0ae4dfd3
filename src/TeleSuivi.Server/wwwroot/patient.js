// The physician's patient page: vital trends (uPlot), environment, alert history and per-patient thresholds.
// One scope of its own: the libraries' scripts declare short globals (signalr.min.js has a top-level `t`).
(() => {
'use strict';

const { t, el } = Common;
const patientId = decodeURIComponent(location.pathname.split('/').filter(Boolean)[1] ?? '');
let range = new URLSearchParams(location.search).get('range') || '7d';
let plots = [];
let patient = null;

function message(text, ok = false) {
  const box = document.getElementById('message');
  box.textContent = text;
  box.className = ok ? 'ok' : '';
}

function plot(container, title, unit, series, period) {
  const times = [...new Set(series.flatMap(s => s.points.map(p => p.t)))].sort((a, b) => a - b);
  const box = el('div', { className: 'chart', dataset: { points: String(times.length) } }, el('h3', { textContent: `${title} (${unit})` }));
  container.append(box);
  if (times.length === 0) {
    box.append(el('p', { className: 'muted', textContent: t('noData') }));
    return;
  }
  const index = new Map(times.map((time, i) => [time, i]));
  const columns = series.map(s => {
    const values = new Array(times.length).fill(null);
    s.points.forEach(p => { values[index.get(p.t)] = p.mean; });
    return values;
  });
  const colours = ['#0f3d5e', '#b3261e', '#1b7f3b'];
  const width = Math.max(280, box.clientWidth - 16);
  plots.push(new uPlot({
    width, height: 180,
    series: [{}, ...series.map((s, i) => ({ label: s.label, stroke: colours[i % colours.length], width: 1.5, spanGaps: true, points: { show: times.length < 60 } }))],
    axes: [{}, { size: 50 }],
    // Every chart spans the selected period, so they line up and a single reading is not stretched over years.
    scales: { x: { time: true, range: () => [period.from / 1000, period.through / 1000] } },
  }, [times.map(time => time / 1000), ...columns], box));
}

async function loadTrends() {
  document.querySelectorAll('.ranges button').forEach(b => b.classList.toggle('active', b.dataset.range === range));
  plots.forEach(p => p.destroy());
  plots = [];
  const trends = await Common.api('GET', `/api/patients/${encodeURIComponent(patientId)}/trends?range=${range}`);
  const period = { from: new Date(trends.from).getTime(), through: new Date(trends.through).getTime() };
  const charts = document.getElementById('charts');
  charts.replaceChildren();
  for (const chart of trends.charts) {
    plot(charts, Common.text(chart.name), chart.unit, chart.series.map(s => ({ label: s.component ?? Common.text(chart.name), points: s.points })), period);
  }
  const environment = document.getElementById('environment');
  environment.replaceChildren();
  for (const trend of trends.environment) {
    plot(environment, trend.code.split('|').pop(), '', [{ label: trend.code.split('|').pop(), points: trend.points }], period);
  }
  await loadRisk(period);
  document.body.dataset.chartsReady = range;
}

// The risk history from the FHIR API (RiskAssessment, the online scorer's scores) over the selected period.
async function loadRisk(period) {
  const query = new URLSearchParams({ subject: `Patient/${patientId}`, _count: '1000', _sort: 'date' });
  query.append('date', 'ge' + new Date(period.from).toISOString());
  query.append('date', 'le' + new Date(period.through).toISOString());
  const bundle = await Common.api('GET', `/fhir/RiskAssessment?${query}`);
  const scores = (bundle.entry ?? []).map(e => e.resource).filter(r => r?.resourceType === 'RiskAssessment');
  const box = document.getElementById('risk');
  box.replaceChildren();
  const points = scores.map(r => ({ t: new Date(r.occurrenceDateTime).getTime(), mean: r.prediction[0].probabilityDecimal * 100 }));
  plot(box, t('riskHistory'), '%', [{ label: t('risk'), points }], period);
  const latest = scores.at(-1);
  document.getElementById('risk-latest').replaceChildren(...(latest
    ? [el('p', { textContent: `${t('latestRisk')}: ${Common.percent(latest.prediction[0].probabilityDecimal)} — ${Common.time(latest.occurrenceDateTime)}` }),
       el('ul', {}, ...(latest.note ?? []).map(n => el('li', { textContent: n.text })))]
    : [el('p', { className: 'muted', textContent: t('noRisk') })]));
}

function renderThresholds() {
  const body = document.querySelector('#thresholds tbody');
  body.replaceChildren(...patient.thresholds.map(th => {
    const inputs = ['criticalLow', 'low', 'high', 'criticalHigh'].map(key => el('input', { type: 'number', step: 'any', name: key, value: th[key] ?? '' }));
    const number = input => input.value === '' ? null : Number(input.value);
    const save = async () => {
      try {
        const [criticalLow, low, high, criticalHigh] = inputs.map(number);
        Object.assign(th, await Common.api('PUT', `/api/patients/${encodeURIComponent(patientId)}/thresholds/${th.vital}`, { criticalLow, low, high, criticalHigh }));
        renderThresholds();
        message(t('saved'), true);
      } catch (error) { message(error.message); }
    };
    const reset = async () => {
      try {
        Object.assign(th, await Common.api('DELETE', `/api/patients/${encodeURIComponent(patientId)}/thresholds/${th.vital}`));
        renderThresholds();
        message(t('saved'), true);
      } catch (error) { message(error.message); }
    };
    return el('tr', { dataset: { vital: th.vital } },
      el('th', { textContent: `${Common.text(th.name)} (${th.unit})` }),
      ...inputs.map(input => el('td', {}, input)),
      el('td', { className: 'small', textContent: th.source === 'patient' ? `${t('custom')} (${th.setBy})` : t('default') }),
      el('td', {}, el('button', { type: 'button', className: 'action primary save', textContent: t('save'), onclick: save }), ' ',
        el('button', { type: 'button', className: 'action', textContent: t('reset'), onclick: reset, disabled: th.source !== 'patient' })));
  }));
}

async function loadHistory() {
  const board = await Common.api('GET', `/api/alerts?closed=true&patient=${encodeURIComponent(patientId)}`);
  const open = await Common.api('GET', `/api/alerts?patient=${encodeURIComponent(patientId)}`);
  const all = [...new Map([...open.alerts, ...board.alerts].map(a => [a.id, a])).values()].sort((a, b) => b.openedAt.localeCompare(a.openedAt));
  document.querySelector('#history tbody').replaceChildren(...all.map(a => el('tr', { dataset: { alertId: a.id } },
    el('td', {}, el('span', { className: `sev ${a.severity}`, textContent: t(a.severity) })),
    el('td', { textContent: Common.time(a.openedAt) }),
    el('td', { textContent: Common.text(a.reason) }),
    el('td', { textContent: t(a.state) + (a.outcome ? ` — ${t(a.outcome)}` : '') + (a.resolvedBy ? ` (${a.resolvedBy})` : '') }))));
}

async function load() {
  try {
    patient = await Common.api('GET', `/api/patients/${encodeURIComponent(patientId)}`);
    document.getElementById('patient-name').textContent = patient.name;
    document.title = `TeleSuivi — ${patient.name}`;
    document.getElementById('summary').textContent = [
      `${t('conditions')}: ${patient.conditions.map(c => c.display).join(', ') || '—'}`,
      `${t('zone')}: ${patient.zone ?? '—'}`, `${t('team')}: ${patient.team ?? '—'}`, `${t('physician')}: ${patient.physician ?? '—'}`,
      `${t('devices')}: ${patient.devices.map(d => d.kind ?? d.id).join(', ') || '—'}`].join(' · ');
    renderThresholds();
    await Promise.all([loadTrends(), loadHistory()]);
  } catch (error) {
    message(error.message);
  }
}

document.querySelectorAll('.ranges button').forEach(button => button.addEventListener('click', () => {
  range = button.dataset.range;
  history.replaceState(null, '', `?range=${range}`);
  loadTrends().catch(error => message(error.message));
}));
Common.init(() => { if (patient) { renderThresholds(); loadTrends(); loadHistory(); } });
load();
})();
