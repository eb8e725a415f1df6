// The auditor page's three files, as strings: they ship inside the compiled coordinator (no file
// to copy next to dist/). The script builds every element with textContent (no innerHTML): what
// the API returns is shown as text, never run.

export const AUDITOR_PAGE_HTML = `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <meta name="viewport" content="width=device-width, initial-scale=1" />
    <title>Retention: auditor</title>
    <link rel="icon" href="data:," />
    <link rel="stylesheet" href="/audit/style.css" />
    <script src="/audit/app.js" defer></script>
  </head>
  <body>
    <header>
      <h1>Retention ledger</h1>
      <form id="access">
        <label>Auditor token (admin: to confirm manual tasks) <input id="token" type="password" autocomplete="off" required /></label>
        <label>From <input id="from" type="date" required /></label>
        <label>To <input id="to" type="date" required /></label>
        <button id="load" type="submit">Load</button>
        <button id="csv" type="button" disabled>Download CSV</button>
      </form>
      <p id="error" role="alert" hidden></p>
    </header>
    <main hidden>
      <section id="verify-section"><h2>Ledger verification</h2><p id="verify"></p><ul id="problems"></ul></section>
      <section><h2>Summary</h2><dl id="summary"></dl></section>
      <section><h2>Requests by status over time</h2><table id="timeline"></table></section>
      <section><h2>Requests and targets</h2><p class="legend">Each cell: the target's status and counts. Overdue, held and failed are highlighted. A target that is not a Kafka consumer is marked webhook or manual under its name.</p><div class="scroll"><table id="matrix"></table></div></section>
      <section id="tasks-section"><h2>Open manual tasks</h2><p class="legend">Manual targets' erasures that wait for someone to do them by hand; overdue ones are highlighted. Confirming one needs an admin token. The subject is shown by its keyed hash; the person to look for is in <code>retention tasks</code> with an admin token.</p><p id="tasks-status" class="ok" role="status" hidden></p><p id="tasks-error" class="bad" role="alert" hidden></p><div class="scroll"><table id="tasks"></table></div><p id="no-tasks" hidden>No open manual tasks.</p></section>
      <section><h2>Deletion probes</h2><table id="probes"></table><p id="no-probes" hidden>No probe results for requests in this window.</p></section>
      <section><h2>Policies</h2><table id="policies"></table></section>
    </main>
  </body>
</html>
`;

export const AUDITOR_PAGE_STYLE = `body { font: 14px/1.4 system-ui, sans-serif; margin: 0; color: #1d2330; background: #f6f7f9; }
header { background: #1d2330; color: #fff; padding: 12px 20px; }
header h1 { font-size: 18px; margin: 0 0 8px; }
form { display: flex; flex-wrap: wrap; gap: 12px; align-items: end; }
label { display: flex; flex-direction: column; font-size: 12px; }
input, button { font: inherit; padding: 4px 8px; }
main { padding: 8px 20px 40px; }
section { background: #fff; border: 1px solid #dde1e7; border-radius: 6px; padding: 8px 16px 16px; margin-top: 16px; }
h2 { font-size: 15px; }
table { border-collapse: collapse; }
th, td { border: 1px solid #dde1e7; padding: 3px 8px; text-align: left; vertical-align: top; white-space: nowrap; }
th { background: #eef0f4; }
.scroll { overflow-x: auto; }
dl { display: flex; flex-wrap: wrap; gap: 10px; margin: 0; }
dl div { border: 1px solid #dde1e7; border-radius: 6px; padding: 6px 12px; min-width: 80px; }
dt { font-size: 12px; color: #5b6474; }
dd { margin: 0; font-size: 20px; font-weight: 600; }
.ok { color: #17663a; font-weight: 600; }
.bad { color: #a4161a; font-weight: 600; }
#error { background: #a4161a; padding: 6px 10px; border-radius: 4px; }
tr.overdue, td.overdue { background: #fff1c2; }
tr.held, td.held { background: #dbe9ff; }
tr.failed, td.failed { background: #ffd9d9; }
td.completed { background: #e3f6e9; }
td.none { color: #9aa1ad; }
.bar { display: inline-block; height: 10px; background: #5b6474; vertical-align: middle; }
.legend { color: #5b6474; font-size: 12px; }
.kind { font-weight: normal; font-size: 12px; color: #5b6474; }
td.instructions { white-space: normal; min-width: 240px; max-width: 480px; }
tr.confirm-form td { background: #f6f7f9; white-space: normal; }
tr.confirm-form form { align-items: start; }
tr.confirm-form textarea { font: inherit; width: 420px; min-height: 4em; }
tr.confirm-form input[type='number'] { width: 90px; }
tr.confirm-form .bad { margin: 4px 0 0; flex-basis: 100%; }
`;

export const AUDITOR_PAGE_SCRIPT = String.raw`'use strict';
(function () {
  var STORAGE = 'retention-auditor-token';
  var STATUSES = ['completed', 'pending', 'overdue', 'held', 'failed', 'scheduled', 'cancelled', 'awaiting_approval'];
  var el = function (id) { return document.getElementById(id); };

  function make(tag, text, cls) {
    var node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    if (cls) node.className = cls;
    return node;
  }
  function row(cells, tag) {
    var tr = document.createElement('tr');
    cells.forEach(function (c) { tr.appendChild(c instanceof Node ? c : make(tag || 'td', c)); });
    return tr;
  }
  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); }
  function day(iso) { return iso.slice(0, 10); }

  function window_() {
    var from = new Date(el('from').value + 'T00:00:00Z');
    var to = new Date(el('to').value + 'T00:00:00Z');
    to.setUTCDate(to.getUTCDate() + 1);
    return { from: from.toISOString(), to: to.toISOString() };
  }

  // GET path, or POST it with a JSON body; the token in the Authorization header, never in the URL.
  function api(path, accept, body) {
    var headers = { authorization: 'Bearer ' + el('token').value, accept: accept || 'application/json' };
    var init = { headers: headers };
    if (body !== undefined) {
      init.method = 'POST';
      headers['content-type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    return fetch(path, init).then(function (res) {
      if (res.ok) return accept === 'text/csv' ? res.blob() : res.json();
      return res.json().then(
        function (body) { throw new Error(res.status + ': ' + ((body && body.error && body.error.message) || res.statusText)); },
        function () { throw new Error(res.status + ': ' + res.statusText); }
      );
    });
  }

  function showError(error) {
    el('error').textContent = error ? String(error.message || error) : '';
    el('error').hidden = !error;
  }

  function renderVerify(v) {
    var p = el('verify');
    clear(p);
    p.appendChild(make('span', v.ok ? 'verified' : 'NOT verified', v.ok ? 'ok' : 'bad'));
    p.appendChild(document.createTextNode(' (' + v.entries + ' entries checked, mode ' + v.mode + (v.checkpoint ? ', anchored on the signed checkpoint of ' + v.checkpoint.treeSize + ' entries' : '') + ')'));
    var list = el('problems');
    clear(list);
    (v.problems || []).forEach(function (problem) { list.appendChild(make('li', problem.kind + ': ' + problem.message, 'bad')); });
  }

  function renderSummary(summary) {
    var dl = el('summary');
    clear(dl);
    Object.keys(summary).forEach(function (key) {
      var box = document.createElement('div');
      box.appendChild(make('dt', key));
      box.appendChild(make('dd', summary[key]));
      box.dataset.key = key;
      dl.appendChild(box);
    });
  }

  function renderTimeline(requests) {
    var byDay = {};
    requests.forEach(function (r) {
      var d = day(r.createdAt);
      byDay[d] = byDay[d] || {};
      byDay[d][r.status] = (byDay[d][r.status] || 0) + 1;
    });
    var used = STATUSES.filter(function (s) { return requests.some(function (r) { return r.status === s; }); });
    var table = el('timeline');
    clear(table);
    table.appendChild(row(['day'].concat(used).concat(['total']), 'th'));
    Object.keys(byDay).sort().forEach(function (d) {
      var total = used.reduce(function (n, s) { return n + (byDay[d][s] || 0); }, 0);
      var bar = make('td');
      var graphic = make('span', null, 'bar');
      graphic.style.width = Math.min(300, total * 6) + 'px';
      bar.appendChild(graphic);
      bar.appendChild(make('span', ' ' + total));
      table.appendChild(row([make('td', d)].concat(used.map(function (s) { return make('td', byDay[d][s] || 0, byDay[d][s] ? s : ''); })).concat([bar])));
    });
  }

  function counts(t) {
    var parts = [];
    (t.tables || []).forEach(function (x) {
      var n = [];
      if (x.deleted) n.push(x.deleted + ' deleted');
      if (x.anonymized) n.push(x.anonymized + ' anonymized');
      if (x.archived) n.push(x.archived + ' archived');
      if (x.held) n.push(x.held + ' held');
      if (!n.length) n.push(x.matched + ' matched');
      parts.push(x.table + ': ' + n.join(', '));
    });
    return parts.join('; ');
  }

  // A target's kind (kafka, webhook, manual): from the report's target when it says, else from GET /v1/services.
  function renderMatrix(requests, kinds) {
    var services = [];
    var kindOf = {};
    requests.forEach(function (r) {
      r.targets.forEach(function (t) {
        if (services.indexOf(t.service) < 0) services.push(t.service);
        if (t.kind) kindOf[t.service] = t.kind;
      });
    });
    services.sort();
    var table = el('matrix');
    clear(table);
    var head = row(['request', 'kind', 'created', 'due', 'status'], 'th');
    services.forEach(function (s) {
      var th = make('th', s);
      var kind = kindOf[s] || kinds[s];
      if (kind && kind !== 'kafka') {
        th.appendChild(make('div', kind, 'kind'));
        th.dataset.kind = kind;
      }
      head.appendChild(th);
    });
    table.appendChild(head);
    requests.slice().reverse().forEach(function (r) {
      var tr = row([make('td', r.id.slice(0, 8)), make('td', r.kind + (r.dryRun ? ' (dry run)' : '')), make('td', r.createdAt.replace('T', ' ').slice(0, 19)), make('td', r.dueAt.slice(0, 10)), make('td', r.status, r.status)]);
      tr.className = r.status;
      tr.dataset.requestId = r.id;
      tr.title = r.id;
      services.forEach(function (s) {
        var t = r.targets.filter(function (x) { return x.service === s; })[0];
        if (!t) { tr.appendChild(make('td', '-', 'none')); return; }
        var td = make('td', null, t.status);
        td.dataset.service = s;
        td.appendChild(make('strong', t.status));
        var detail = counts(t);
        if (detail) td.appendChild(make('div', detail));
        if (t.error) td.appendChild(make('div', t.error.code));
        if (t.lastError) td.appendChild(make('div', 'last error: ' + t.lastError));
        if (t.holdIds && t.holdIds.length) td.appendChild(make('div', 'holds: ' + t.holdIds.join(', ')));
        tr.appendChild(td);
      });
      table.appendChild(tr);
    });
  }

  function renderProbes(requests) {
    var items = [];
    requests.forEach(function (r) {
      (r.probes || []).forEach(function (p) { items.push({ request: r.id, probe: p }); });
    });
    var table = el('probes');
    clear(table);
    el('no-probes').hidden = items.length > 0;
    table.hidden = items.length === 0;
    if (!items.length) return;
    table.appendChild(row(['request', 'service', 'status', 'remaining', 'held', 'probed at'], 'th'));
    items.forEach(function (i) {
      var p = i.probe;
      table.appendChild(row([make('td', i.request.slice(0, 8)), make('td', p.service), make('td', p.status, p.status === 'found' ? 'failed' : ''), make('td', p.remaining), make('td', p.held), make('td', p.at || p.probedAt || '')]));
    });
  }

  function renderPolicies(services) {
    var table = el('policies');
    clear(table);
    table.appendChild(row(['service', 'policy', 'table', 'period', 'action', 'legal basis', 'real runs'], 'th'));
    services.forEach(function (s) {
      (s.policies || []).forEach(function (p) {
        table.appendChild(row([s.service, p.name, p.table, p.period, p.action, p.legalBasis, p.enabled ? 'enabled' : 'dry run only']));
      });
    });
  }

  function minute(iso) { return iso ? iso.replace('T', ' ').slice(0, 16) : ''; }

  function showTasksError(error) {
    el('tasks-error').textContent = error ? String(error.message || error) : '';
    el('tasks-error').hidden = !error;
  }

  // Under a task's row: a note (required), the outcome and an optional count, sent to
  // POST /v1/erasure-requests/{id}/targets/{name}/confirm with the page's token. The API's refusal
  // (403 for a token that is not an admin's, 409 for a task no longer open) is shown in the form.
  function openConfirm(task, taskRow, button) {
    var existing = taskRow.nextSibling;
    if (existing && existing.classList && existing.classList.contains('confirm-form')) { existing.querySelector('textarea').focus(); return; }
    el('tasks-status').hidden = true;
    var formRow = document.createElement('tr');
    formRow.className = 'confirm-form';
    var td = make('td');
    td.colSpan = taskRow.children.length;
    var form = document.createElement('form');
    var noteLabel = make('label', 'Note: what was done (3 to 2000 characters, no personal data)');
    var note = document.createElement('textarea');
    note.name = 'note';
    note.required = true;
    note.minLength = 3;
    note.maxLength = 2000;
    noteLabel.appendChild(note);
    var outcomeLabel = make('label', 'Outcome');
    var outcome = document.createElement('select');
    outcome.name = 'outcome';
    [['completed', 'completed: erased'], ['not_applicable', 'not applicable: nothing there']].forEach(function (o) {
      var option = make('option', o[1]);
      option.value = o[0];
      outcome.appendChild(option);
    });
    outcomeLabel.appendChild(outcome);
    var countLabel = make('label', 'Count (optional)');
    var count = document.createElement('input');
    count.type = 'number';
    count.name = 'count';
    count.min = '0';
    count.step = '1';
    countLabel.appendChild(count);
    var send = make('button', 'Send confirmation');
    send.type = 'submit';
    var cancel = make('button', 'Cancel');
    cancel.type = 'button';
    var error = make('p', null, 'bad');
    error.setAttribute('role', 'alert');
    error.hidden = true;
    [noteLabel, outcomeLabel, countLabel, send, cancel, error].forEach(function (n) { form.appendChild(n); });
    td.appendChild(form);
    formRow.appendChild(td);
    taskRow.parentNode.insertBefore(formRow, taskRow.nextSibling);
    button.disabled = true;
    note.focus();
    cancel.addEventListener('click', function () { formRow.remove(); button.disabled = false; });
    form.addEventListener('submit', function (event) {
      event.preventDefault();
      var body = { note: note.value, outcome: outcome.value };
      if (count.value !== '') body.count = Number(count.value);
      send.disabled = true;
      error.hidden = true;
      var path = '/v1/erasure-requests/' + encodeURIComponent(task.requestId) + '/targets/' + encodeURIComponent(task.target) + '/confirm';
      api(path, 'application/json', body).then(
        function () {
          formRow.remove();
          el('tasks-status').textContent = 'Confirmed ' + task.target + ' for request ' + task.requestId + ' (' + body.outcome.replace('_', ' ') + ').';
          el('tasks-status').hidden = false;
          refresh();
        },
        function (e) {
          error.textContent = String(e.message || e);
          error.hidden = false;
          send.disabled = false;
        }
      );
    });
  }

  function renderTasks(page) {
    var table = el('tasks');
    clear(table);
    var items = page.items || [];
    el('no-tasks').hidden = items.length > 0;
    table.hidden = items.length === 0;
    if (!items.length) return;
    table.appendChild(row(['request', 'target', 'subject type', 'subject (keyed hash)', 'created', 'due', 'overdue', 'instructions', ''], 'th'));
    items.forEach(function (task) {
      var button = make('button', 'Confirm', 'confirm');
      button.type = 'button';
      var action = make('td');
      action.appendChild(button);
      var tr = row([
        make('td', task.requestId.slice(0, 8)),
        make('td', task.target),
        make('td', task.subjectType),
        make('td', task.subjectRef ? task.subjectRef.slice(0, 12) + '…' : ''),
        make('td', minute(task.createdAt)),
        make('td', minute(task.dueAt)),
        make('td', task.overdue ? 'OVERDUE' : '', task.overdue ? 'bad' : ''),
        make('td', task.instructions, 'instructions'),
        action
      ]);
      tr.className = task.overdue ? 'overdue' : '';
      tr.dataset.requestId = task.requestId;
      tr.dataset.target = task.target;
      tr.title = task.requestId;
      button.addEventListener('click', function () { openConfirm(task, tr, button); });
      table.appendChild(tr);
    });
    if (page.nextCursor) {
      var more = make('td', 'More open tasks than shown here: retention tasks lists them all.', 'legend');
      more.colSpan = 9;
      table.appendChild(row([more]));
    }
  }

  // The ledger's sections (report, verification, policies: the auditor's) and the open manual
  // tasks (auditor or admin) load side by side: an admin token sees the tasks, to confirm them,
  // with the API's 403 for the rest; a token that may read neither sees only the error.
  function load(event) {
    if (event) event.preventDefault();
    showError(null);
    if (event) el('tasks-status').hidden = true;
    sessionStorage.setItem(STORAGE, el('token').value);
    var w = window_();
    var query = '?from=' + encodeURIComponent(w.from) + '&to=' + encodeURIComponent(w.to);
    var kinds = api('/v1/services').then(
      function (answer) {
        var byName = {};
        (answer.items || []).forEach(function (s) { if (s.kind) byName[s.service] = s.kind; });
        return byName;
      },
      function () { return {}; }
    );
    var ledger = Promise.all([api('/v1/ledger/report' + query), api('/v1/ledger/verify'), api('/v1/policies'), kinds]).then(
      function (results) { return { ok: results }; },
      function (error) { return { error: error }; }
    );
    var tasks = api('/v1/tasks?status=open&limit=500').then(
      function (page) { return { ok: page }; },
      function (error) { return { error: error }; }
    );
    Promise.all([ledger, tasks]).then(function (settled) {
      var l = settled[0];
      var t = settled[1];
      var main = document.querySelector('main');
      if (t.ok) { showTasksError(null); renderTasks(t.ok); } else { clear(el('tasks')); el('no-tasks').hidden = true; showTasksError(t.error); }
      if (l.ok) {
        var report = l.ok[0];
        renderVerify(l.ok[1]);
        renderSummary(report.summary);
        renderTimeline(report.requests);
        renderMatrix(report.requests, l.ok[3]);
        renderProbes(report.requests);
        renderPolicies(l.ok[2].services);
        main.querySelectorAll('section').forEach(function (section) { section.hidden = false; });
        main.hidden = false;
        el('csv').disabled = false;
        document.body.dataset.loaded = String(Date.now());
      } else if (t.ok) {
        // Not an auditor's token, but one that may read the tasks (an admin's): the tasks only.
        showError(l.error);
        main.querySelectorAll('section').forEach(function (section) { section.hidden = section.id !== 'tasks-section'; });
        main.hidden = false;
        el('csv').disabled = true;
      } else {
        showError(l.error);
        main.hidden = true;
        el('csv').disabled = true;
      }
      if (t.ok) document.body.dataset.tasksLoaded = String(Date.now());
    });
  }

  // After a confirmation: the tasks and the matrix again, the status line kept.
  function refresh() { load(); }

  function downloadCsv() {
    var w = window_();
    api('/v1/ledger/report?format=csv&from=' + encodeURIComponent(w.from) + '&to=' + encodeURIComponent(w.to), 'text/csv').then(function (blob) {
      var link = document.createElement('a');
      link.href = URL.createObjectURL(blob);
      link.download = 'retention-ledger-report-' + el('from').value + '-' + el('to').value + '.csv';
      document.body.appendChild(link);
      link.click();
      setTimeout(function () { URL.revokeObjectURL(link.href); link.remove(); }, 1000);
    }, showError);
  }

  document.addEventListener('DOMContentLoaded', function () {
    var today = new Date();
    var start = new Date(today.getTime() - 29 * 86400000);
    el('to').value = today.toISOString().slice(0, 10);
    el('from').value = start.toISOString().slice(0, 10);
    el('token').value = sessionStorage.getItem(STORAGE) || '';
    el('access').addEventListener('submit', load);
    el('csv').addEventListener('click', downloadCsv);
    if (el('token').value) load();
  });
})();
`;
