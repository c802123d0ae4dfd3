// Shared by the board and the patient page: labels in French and English, the signed-in user, API calls.
'use strict';

const LABELS = {
  en: {
    board: 'Triage board', status: 'Status', language: 'Français', live: 'live', offline: 'reconnecting…',
    team: 'Team', zone: 'Zone', severity: 'Severity', state: 'State', all: 'All', active: 'To handle',
    critical: 'critical', warning: 'warning', info: 'info',
    new: 'new', claimed: 'claimed', acknowledged: 'acknowledged', escalated: 'escalated', snoozed: 'snoozed', closed: 'closed',
    patient: 'Patient', reason: 'Reason', waiting: 'Waiting', who: 'Who', noAlerts: 'No alert to handle.',
    claim: 'Claim', release: 'Release', acknowledge: 'Acknowledge', note: 'Note', call: 'Log call', snooze: 'Snooze',
    escalate: 'Escalate', resolve: 'Resolve', outcome: 'Outcome', minutes: 'minutes', reached: 'patient reached',
    evidence: 'Evidence', recentVitals: 'Recent vitals (24 h)', actions: 'Actions', openPatient: 'Patient page',
    conditionEnded: 'condition ended', by: 'by', to: 'to', until: 'until', rank: 'rank',
    'false-alarm': 'false alarm', 'managed-at-home': 'managed at home', 'home-visit': 'home visit', hospitalised: 'hospitalised',
    'confirmed-exacerbation': 'confirmed exacerbation',
    shortcuts: 'Keys: ↑/↓ or j/k select · c claim · a acknowledge · r release · e escalate · n note · Enter patient page · ? help',
    signOut: 'Sign out', soundOn: 'Sound on critical: on', soundOff: 'Sound on critical: off', soundArm: 'click to allow',
    trends: 'Trends', thresholds: 'Alert thresholds', alertHistory: 'Alert history', environment: 'Environment (zone)',
    criticalLow: 'Critical low', low: 'Low', high: 'High', criticalHigh: 'Critical high', source: 'Source', save: 'Save', reset: 'Defaults',
    default: 'default', custom: 'set for this patient', saved: 'Saved.', conditions: 'Conditions', devices: 'Devices', physician: 'Physician',
    noData: 'no reading in this period', timeline: 'Timeline', opened: 'opened',
    risk: 'Risk', riskHistory: 'Exacerbation risk (72 h)', riskProbability: 'probability of an exacerbation within 72 h',
    latestRisk: 'Latest score', noRisk: 'no risk score in this period',
    updated: 'updated', recurred: 'recurred', 'condition-ended': 'condition ended', cleared: 'cleared', released: 'released', resolved: 'resolved',
  },
  fr: {
    board: 'Tableau de tri', status: 'État', language: 'English', live: 'en direct', offline: 'reconnexion…',
    team: 'Équipe', zone: 'Zone', severity: 'Gravité', state: 'État', all: 'Toutes', active: 'À traiter',
    critical: 'critique', warning: 'alerte', info: 'info',
    new: 'nouvelle', claimed: 'prise', acknowledged: 'acquittée', escalated: 'transmise', snoozed: 'reportée', closed: 'close',
    patient: 'Patient', reason: 'Motif', waiting: 'Attente', who: 'Qui', noAlerts: 'Aucune alerte à traiter.',
    claim: 'Prendre', release: 'Rendre', acknowledge: 'Acquitter', note: 'Note', call: 'Appel', snooze: 'Reporter',
    escalate: 'Transmettre', resolve: 'Clore', outcome: 'Issue', minutes: 'minutes', reached: 'patient joint',
    evidence: 'Éléments', recentVitals: 'Constantes récentes (24 h)', actions: 'Actions', openPatient: 'Fiche patient',
    conditionEnded: 'condition terminée', by: 'par', to: 'à', until: "jusqu'à", rank: 'rang',
    'false-alarm': 'fausse alerte', 'managed-at-home': 'géré à domicile', 'home-visit': 'visite à domicile', hospitalised: 'hospitalisé',
    'confirmed-exacerbation': 'exacerbation confirmée',
    shortcuts: 'Touches : ↑/↓ ou j/k choisir · c prendre · a acquitter · r rendre · e transmettre · n note · Entrée fiche patient · ? aide',
    signOut: 'Se déconnecter', soundOn: 'Son si critique : activé', soundOff: 'Son si critique : désactivé', soundArm: 'cliquer pour autoriser',
    trends: 'Tendances', thresholds: "Seuils d'alerte", alertHistory: 'Historique des alertes', environment: 'Environnement (zone)',
    criticalLow: 'Bas critique', low: 'Bas', high: 'Haut', criticalHigh: 'Haut critique', source: 'Origine', save: 'Enregistrer', reset: 'Défauts',
    default: 'par défaut', custom: 'propre au patient', saved: 'Enregistré.', conditions: 'Pathologies', devices: 'Appareils', physician: 'Médecin',
    noData: 'aucune mesure sur la période', timeline: 'Chronologie', opened: 'ouverte',
    risk: 'Risque', riskHistory: "Risque d'exacerbation (72 h)", riskProbability: "probabilité d'une exacerbation dans les 72 h",
    latestRisk: 'Dernier score', noRisk: 'aucun score de risque sur la période',
    updated: 'mise à jour', recurred: 'revenue', 'condition-ended': 'condition terminée', cleared: 'levée', released: 'rendue', resolved: 'close',
  },
};

// The evidence of an alert is stored with English labels (Alerts/AlertModel.cs, EvidenceLabels, and the vital signs'
// names): the French board shows them from here, for alerts stored before as well. A test checks every label is here.
const EVIDENCE_FR = {
  'risk': 'risque', 'risk factor': 'facteur de risque', 'latest reading': 'dernière mesure', 'monitoring started': 'début de la surveillance',
  'rejected message': 'message rejeté', 'device status': "état de l'appareil", 'Body weight': 'Poids', 'probability': 'probabilité',
  'battery-low': 'batterie faible',
  'SpO2': 'SpO2', 'Heart rate': 'Fréquence cardiaque', 'Respiratory rate': 'Fréquence respiratoire', 'Systolic pressure': 'Pression systolique',
  'Temperature': 'Température', 'Glucose': 'Glycémie', 'Weight gain in 3 days': 'Prise de poids en 3 jours',
};

const Common = {
  lang: localStorage.getItem('telesuivi.lang') || ((navigator.language || 'fr').startsWith('en') ? 'en' : 'fr'),
  t(key) { return (LABELS[Common.lang] || LABELS.en)[key] ?? key; },
  text(localized) { return localized ? (localized[Common.lang] ?? localized.en) : ''; },
  // An evidence label, unit or fixed detail in the board's language.
  evidence(english) { return english && Common.lang === 'fr' ? (EVIDENCE_FR[english] ?? english) : english; },
  // The signed-in user (GET /api/me), set by init(): every action is recorded under this name by the server.
  me: null,
  user() { return Common.me?.name ?? ''; },

  // Fills every element with data-label="key" and wires the language switch and the name field.
  init(onChange) {
    const apply = () => {
      document.documentElement.lang = Common.lang;
      document.querySelectorAll('[data-label]').forEach(el => { el.textContent = Common.t(el.dataset.label); });
    };
    const toggle = document.getElementById('language');
    if (toggle) toggle.addEventListener('click', () => {
      Common.lang = Common.lang === 'fr' ? 'en' : 'fr';
      localStorage.setItem('telesuivi.lang', Common.lang);
      apply();
      onChange?.();
    });
    Common.showSession();
    apply();
  },

  // Who is signed in, and the anti-forgery token of the sign-out form.
  async showSession() {
    const response = await fetch('/api/me', { headers: { 'Accept': 'application/json' } });
    if (response.status === 401) { Common.toLogin(); return; }
    if (!response.ok) return;
    Common.me = await response.json();
    const me = Common.me;
    document.getElementById('user').textContent = `${me.name} (${me.role}${me.teams.length ? ', ' + me.teams.join(', ') : ''})`;
    document.getElementById('logoutToken').value = me.logoutToken;
    document.getElementById('logout').hidden = false;
  },

  // The session expired: to the login page, then back here.
  toLogin() { location.href = '/login?returnUrl=' + encodeURIComponent(location.pathname + location.search); },

  async api(method, path, body) {
    const headers = { 'Accept': 'application/json' };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    const response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    if (response.status === 401) { Common.toLogin(); throw new Error(response.statusText); }
    const data = response.headers.get('content-type')?.includes('json') ? await response.json() : null;
    if (!response.ok) throw new Error(data?.detail || data?.title || `${response.status} ${response.statusText}`);
    return data;
  },

  // A probability (0–1) as a percentage with two significant digits below 10 % (calibrated risks are mostly 0.5–5 %:
  // whole percents would show them all as 0 or 1 %), or a dash when unknown. Same rule as RiskThresholds.Percent.
  percent(p) {
    if (p === null || p === undefined) return '—';
    const percent = p * 100;
    const digits = percent >= 10 || percent === 0 ? 0 : percent >= 1 ? 1 : 2;
    return `${Number(percent.toFixed(digits)).toLocaleString(Common.lang === 'fr' ? 'fr-FR' : 'en-GB')} %`;
  },

  time(iso) {
    return iso ? new Date(iso).toLocaleString(Common.lang === 'fr' ? 'fr-FR' : 'en-GB', { dateStyle: 'short', timeStyle: 'short' }) : '';
  },

  waiting(iso) {
    const minutes = Math.max(0, Math.round((Date.now() - new Date(iso).getTime()) / 60000));
    return minutes < 60 ? `${minutes} min` : minutes < 2880 ? `${Math.floor(minutes / 60)} h ${minutes % 60}` : `${Math.floor(minutes / 1440)} j`;
  },

  el(tag, props = {}, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(props)) {
      if (key === 'dataset') Object.assign(node.dataset, value);
      else if (key.startsWith('on')) node.addEventListener(key.slice(2), value);
      else if (value !== undefined && value !== null) node[key] = value;
    }
    node.append(...children.filter(c => c !== null && c !== undefined));
    return node;
  },

  // A small line chart of one series on a canvas, for the board's detail panel.
  sparkline(canvas, points) {
    const ctx = canvas.getContext('2d');
    const width = canvas.width = canvas.clientWidth * devicePixelRatio;
    const height = canvas.height = canvas.clientHeight * devicePixelRatio;
    ctx.clearRect(0, 0, width, height);
    if (points.length === 0) return;
    const values = points.map(p => p.mean);
    const min = Math.min(...values), max = Math.max(...values);
    const t0 = points[0].t, t1 = points[points.length - 1].t;
    const x = t => t1 === t0 ? width / 2 : (t - t0) / (t1 - t0) * (width - 4) + 2;
    const y = v => max === min ? height / 2 : height - 2 - (v - min) / (max - min) * (height - 4);
    ctx.strokeStyle = '#0f3d5e';
    ctx.lineWidth = 1.5 * devicePixelRatio;
    ctx.beginPath();
    points.forEach((p, i) => i === 0 ? ctx.moveTo(x(p.t), y(p.mean)) : ctx.lineTo(x(p.t), y(p.mean)));
    ctx.stroke();
    if (points.length === 1) {
      ctx.fillStyle = '#0f3d5e';
      ctx.beginPath();
      ctx.arc(x(points[0].t), y(points[0].mean), 3 * devicePixelRatio, 0, 2 * Math.PI);
      ctx.fill();
    }
    canvas.dataset.points = String(points.length);
  },
};
