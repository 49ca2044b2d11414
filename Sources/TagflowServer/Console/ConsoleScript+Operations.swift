extension ConsoleScript {
    /// Destinations with their outboxes and automations, tested on demand; the quarantine.
    static let operations = #"""
        // Where changes are pushed: each destination's outbox by status and the automations sending to it.
        async function showDestinations() {
          const [destinations, automations] = await Promise.all([api('/api/destinations').then(a => a.destinations),
            api('/api/automations').then(a => a.automations)]);
          const details = await Promise.all(destinations.map(d => api('/api/destinations/' + d.id)));
          const trigger = t => [t.on, t.tag, t.segment, t.event, t.where && `where ${t.where}`].filter(Boolean).join(' ');
          document.getElementById('destinations').innerHTML = details.map(d => `<tr><td>${esc(d.name)}</td><td>${esc(d.url)}</td>
            <td>${esc(d.status)}${d.statusReason ? ` (${esc(d.statusReason)})` : ''}</td>
            <td>${Object.entries(d.outbox || {}).map(([k, n]) => `${esc(k)} ${n}`).join(' · ') || '—'}</td>
            <td>${automations.filter(a => a.destination === d.id).map(a => `${esc(a.name)}: ${esc(trigger(a.trigger))}${a.enabled ? '' : ' (disabled)'}`).join('<br>') || '—'}</td>
            <td><button class="testDestination" data-destination="${d.id}">test 测试</button></td></tr>`).join('')
            || '<tr><td colspan="6">none yet: POST /api/destinations and /api/automations (docs/api.md)</td></tr>';
        }
        document.getElementById('destinations').addEventListener('click', async event => {
          const button = event.target.closest('button.testDestination');
          if (!button) return;
          const out = document.getElementById('destinationTest');
          out.textContent = 'sending a signed tagflow.test event…';
          const {ok, answer} = await post(`/api/destinations/${button.dataset.destination}/test`, '');
          out.className = ok && answer.delivered ? 'muted' : 'err';
          out.textContent = !ok ? (answer.message || 'the test could not be sent')
            : answer.delivered ? `test delivered 测试送达: HTTP ${answer.status} in ${answer.latencyMs} ms`
            : `test not delivered 测试未送达: ${answer.error || 'HTTP ' + answer.status}`;
        });

        // The quarantine, drawn when asked for (a correction being typed is not redrawn under the typist).
        function showQuarantine() {
          return fill(document.getElementById('quarantine'), async () => {
            const entries = (await api('/api/quarantine?limit=50')).entries;
            return entries.length ? `<table><thead><tr><th>#</th><th>received</th><th>source</th><th>reason 原因</th><th>message 消息</th></tr></thead><tbody>
              ${entries.map(q => `<tr data-entry="${q.id}"><td>${q.id}</td><td>${esc(q.receivedAt)}</td><td>${q.sourceId ?? '—'}</td>
                <td><b>${esc(q.code)}</b>${q.field ? ` (field <code>${esc(q.field)}</code>)` : ''}: ${esc(q.message)}<br><span class="muted">message ${q.position} of its request</span></td>
                <td><textarea rows="4" spellcheck="false" style="width:100%;font:.8rem ui-monospace,monospace">${esc(JSON.stringify(q.payload, null, 1))}</textarea>
                <button class="replay">replay 重放</button> <button class="discard">discard 丢弃</button> <span class="outcome"></span></td></tr>`).join('')}
              </tbody></table>` : '<p class="muted">nothing pending 无待处理消息</p>';
          });
        }
        document.getElementById('showQuarantine').addEventListener('click', showQuarantine);
        document.getElementById('quarantine').addEventListener('click', async event => {
          const button = event.target.closest('button.replay, button.discard');
          if (!button) return;
          const row = button.closest('tr'), outcome = row.querySelector('.outcome');
          const replay = button.classList.contains('replay');
          const {ok, status, answer} = await post(`/api/quarantine/${row.dataset.entry}/${replay ? 'replay' : 'discard'}`,
            replay ? row.querySelector('textarea').value : '');
          if (!ok) { outcome.className = 'outcome err'; outcome.textContent = answer.message || `answered ${status}`; return; }
          showQuarantine();
          refresh();
        });
        """#
}
