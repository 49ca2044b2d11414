/// What the console does in the browser: reads the admin API with the token it is given (refreshing the live
/// view every second) and draws the panels a click opens. Plain JavaScript, no build step: ``ConsolePage``
/// serves it inline.
enum ConsoleScript {
    static let source = #"""
        const tokenInput = document.getElementById('token');
        tokenInput.value = new URLSearchParams(location.hash.slice(1)).get('token') || localStorage.getItem('tagflowToken') || '';
        tokenInput.addEventListener('change', () => { localStorage.setItem('tagflowToken', tokenInput.value); refresh(); });
        const labels = {eventsAccepted:'events accepted 已接收', eventsDeduplicated:'de-duplicated 去重', eventsQuarantined:'quarantined 隔离', quarantinePending:'pending in quarantine 待处理',
          profiles:'profiles 用户', identifiers:'identifiers 标识', mergesAccepted:'merges 合并', mergesRefused:'refused merges 拒绝合并',
          ingestQueueWaiting:'write queue 队列'};
        const esc = v => String(v ?? '').replace(/&/g,'&amp;').replace(/</g,'&lt;').replace(/"/g,'&quot;');
        const show = v => v === undefined || v === null ? '—' : esc(typeof v === 'string' ? v : JSON.stringify(v));
        const profileLink = id => `<a class="profile" data-profile="${Number(id)}">${Number(id)}</a>`;
        let tagNames = {};
        // The admin API with the token: `send` answers whatever came back (a refused plan carries its problems).
        async function send(method, path, body) {
          const r = await fetch(path, {method, body,
            headers: {Authorization: 'Bearer ' + tokenInput.value, 'Content-Type': 'application/json'}});
          return {ok: r.ok, status: r.status, answer: await r.json().catch(() => ({}))};
        }
        const post = (path, body) => send('POST', path, body);
        async function api(path) {
          const r = await fetch(path, {headers: {Authorization: 'Bearer ' + tokenInput.value}});
          if (!r.ok) throw new Error((await r.json().catch(() => ({}))).message || `${path} answered ${r.status}`);
          return r.json();
        }
        // Shows `element` with what `draw` makes of the API's answers, or the error that stopped it; true when drawn.
        async function fill(element, draw) {
          element.hidden = false;
          try { element.innerHTML = await draw(); return true; }
          catch (e) { element.innerHTML = `<p class="err">${esc(e.message)}</p>`; return false; }
        }
        // The live dashboard's memory: a sample a refresh (about a second apart), the last two minutes of them.
        const samples = [];
        function remember(stats, tags) {
          samples.push({at: Date.now(), events: stats.eventsAccepted, members: Object.fromEntries(tags.map(t => [t.id, t.members ?? 0]))});
          while (samples.length > 121) samples.shift();
        }
        // Events a second over the last ten seconds, and a line of the per-second rate over two minutes.
        function drawRate() {
          const perSecond = samples.slice(1).map((s, i) => (s.events - samples[i].events) * 1000 / Math.max(1, s.at - samples[i].at));
          const recent = samples.filter(s => s.at >= Date.now() - 10_000);
          const rate = recent.length > 1 ? (recent.at(-1).events - recent[0].events) * 1000 / (recent.at(-1).at - recent[0].at) : 0;
          document.getElementById('rate').textContent = `${rate.toFixed(1)} over the last 10 s`;
          const top = Math.max(1, ...perSecond);
          const points = perSecond.map((r, i) => `${(i * 300 / 119).toFixed(1)},${(58 - r / top * 54).toFixed(1)}`).join(' ');
          document.getElementById('spark').innerHTML = `<polyline fill="none" stroke="#5b7be0" stroke-width="1.5" points="${points}"/>`;
        }
        // How many members a tag gained or lost over the last minute.
        function moved(tag, now) {
          const then = samples.find(s => s.at >= Date.now() - 60_000);
          const delta = then && then.members[tag] !== undefined ? now - then.members[tag] : 0;
          return delta > 0 ? `<span style="color:#1a7f37">▲${delta}</span>` : delta < 0 ? `<span class="err">▼${-delta}</span>` : '';
        }
        async function refresh() {
          if (!tokenInput.value) return;
          try {
            const stats = await api('/api/stats');
            document.getElementById('cards').innerHTML = Object.entries(labels)
              .map(([k, l]) => `<div class="card"><b>${stats[k] ?? 0}</b><span>${l}</span></div>`).join('');
            const latest = (await api('/api/events?limit=200&after=' + Math.max(0, stats.lastSequence - 200))).events;
            const counts = {};
            for (const e of latest) { const name = e.name || e.type; counts[name] = (counts[name] || 0) + 1; }
            document.getElementById('topEvents').innerHTML = Object.entries(counts).sort((a, b) => b[1] - a[1]).slice(0, 8)
              .map(([name, n]) => `<tr><td>${esc(name)}</td><td><span class="bar" style="width:${Math.round(n / latest.length * 200)}px"></span>${n}</td></tr>`).join('');
            const events = latest.slice(-15).reverse();
            document.getElementById('events').innerHTML = events.map(e =>
              `<tr><td>${e.seq}</td><td>${esc(e.timestamp)}</td><td>${esc(e.type)}</td><td>${esc(e.name)}</td><td>${profileLink(e.profileId)}</td></tr>`).join('');
            const tags = (await api('/api/tags')).tags;
            tagNames = Object.fromEntries(tags.map(t => [t.id, t.displayName]));
            document.getElementById('tags').innerHTML = tags.map(t =>
              `<tr><td><a class="tag" data-tag="${esc(t.id)}">${esc(t.id)}</a></td><td>${esc(t.displayName)}</td><td>${esc(t.category)}</td><td>${t.members ?? 0}</td><td>${moved(t.id, t.members ?? 0)}</td></tr>`).join('');
            remember(stats, tags);
            drawRate();
            const segments = (await api('/api/segments')).segments;
            const rule = source => source.replace(/^[\s\S]*?\bwhen\s+/, '').replace(/\s+/g, ' ');
            document.getElementById('segments').innerHTML = segments.map(s =>
              `<tr><td><a class="segment" data-segment="${esc(s.id)}">${esc(s.id)}</a></td><td>${esc(s.displayName)}</td><td><code>${esc(rule(s.source || ''))}</code></td><td>${s.members ?? 0}</td></tr>`).join('')
              || '<tr><td colspan="4">none yet: define one in a .tags file (`segment …`) or with POST /api/segments</td></tr>';
            await showDestinations();
            const changes = (await api('/api/tag-changes?limit=15')).history;
            document.getElementById('changes').innerHTML = changes.map(c =>
              `<tr><td title="${esc(c.at)}">${esc(c.at).slice(11, 23)}</td><td>${profileLink(c.profile)}</td><td>${esc(c.tag)}</td><td>${show(c.old)} → ${show(c.new)}</td><td>${esc(c.cause)}</td></tr>`).join('');
            document.getElementById('live').hidden = false;
            document.getElementById('err').textContent = '';
          } catch (e) { document.getElementById('err').textContent = e.message; }
        }

        // A profile: its identifiers, traits and tags, its tag history and latest events; "why" explains a tag
        // it has, or one it does not.
        const panel = document.getElementById('profile');
        function openProfile(path) {
          return fill(panel, async () => {
            const p = await api(path);
            const [tags, history] = await Promise.all([
              api(`/api/profiles/${p.id}/tags`).then(a => a.tags), api(`/api/profiles/${p.id}/tag-history?limit=20`).then(a => a.history)]);
            const held = new Set(tags.map(t => t.tag));
            const others = Object.keys(tagNames).filter(t => !held.has(t));
            panel.dataset.id = p.id;
            return `<h2>Profile 用户 ${p.id}</h2>
              <p class="muted">first seen ${esc(p.firstSeen)} · last seen ${esc(p.lastSeen)} · ${p.eventCount} events</p>
              <p><b>identifiers 标识</b> ${p.identifiers.map(i => `<code>${esc(i.type)}: ${esc(i.value)}</code>`).join(' ') || '—'}</p>
              <p><b>traits 属性</b> <code>${esc(JSON.stringify(p.traits))}</code></p>
              <table><thead><tr><th>tag</th><th>name 名称</th><th>value</th><th>since</th><th></th></tr></thead><tbody id="profileTags">
              ${tags.map(t => `<tr><td><a class="tag" data-tag="${esc(t.tag)}">${esc(t.tag)}</a></td><td>${esc(tagNames[t.tag])}</td><td>${show(t.value)}</td><td>${esc(t.since)}</td>
                <td><button class="why" data-tag="${esc(t.tag)}">why 为什么</button></td></tr><tr hidden><td colspan="5"></td></tr>`).join('')
                || '<tr><td colspan="5">no tags</td></tr>'}</tbody></table>
              ${others.length ? `<p>Why not 为什么没有: <select id="whyNot">${others.map(t => `<option value="${esc(t)}">${esc(t)} ${esc(tagNames[t])}</option>`).join('')}</select>
                <button class="why" data-tag="" id="whyNotButton">explain 解释</button></p><div id="whyNotAnswer"></div>` : ''}
              <div class="cols"><div><h2>Tag history 标签历史</h2><table><thead><tr><th>at</th><th>tag</th><th>change</th><th>cause</th></tr></thead><tbody id="profileHistory">
                ${history.map(c => `<tr><td>${esc(c.at)}</td><td>${esc(c.tag)}</td><td>${show(c.old)} → ${show(c.new)}</td><td>${esc(c.cause)}</td></tr>`).join('')}</tbody></table></div>
              <div><h2>Latest events 最近事件</h2><table><thead><tr><th>#</th><th>time</th><th>event</th><th>properties</th></tr></thead><tbody id="profileEvents">
                ${p.events.slice(0, 20).map(e => `<tr><td>${e.seq}</td><td>${esc(e.timestamp)}</td><td>${esc(e.name || e.type)}</td><td><code>${esc(JSON.stringify(e.payload.properties ?? e.payload.traits ?? {}))}</code></td></tr>`).join('')}</tbody></table></div></div>`;
          });
        }
        function explanationHTML(x) {
          const node = n => `<li><code>${esc(n.expression)}</code> = <b>${show(n.value)}</b>${n.events.length ? ` <span class="muted">← events ${n.events.slice(0, 10).join(', ')}${n.events.length > 10 ? ', …' : ''}</span>` : ''}
            ${n.children.length ? `<ul class="explain">${n.children.map(node).join('')}</ul>` : ''}</li>`;
          return `<p>${x.value === null || x.value === undefined ? 'does not have it 没有此标签' : 'has it 有此标签: <b>' + show(x.value) + '</b>'}${x.matchedCase ? ` (${esc(x.matchedCase)})` : ''}</p>
            <ul class="explain">${x.conditions.map(node).join('')}</ul>
            <p class="muted">${x.nextChange ? 'next change by time alone 下次随时间变化: ' + esc(x.nextChange) : 'only an event can change it 仅事件可改变'}</p>`;
        }
        function explain(tag, target) {
          return fill(target, async () =>
            explanationHTML(await api(`/api/profiles/${panel.dataset.id}/tags/${encodeURIComponent(tag)}/explain`)));
        }
        // A tag: its definition, who has it (a page at a time) and who changed it when; "edit" puts its text
        // in the editor, to dry-run and publish as a new version.
        const tagPanel = document.getElementById('tagPanel');
        async function openTag(id) {
          const drawn = await fill(tagPanel, async () => {
            const path = '/api/tags/' + encodeURIComponent(id);
            const [t, audit] = await Promise.all([api(path), api(path + '/audit')]);
            tagPanel.dataset.tag = id;
            tagPanel.source = t.source;
            return `<h2>Tag 标签 ${esc(t.id)} ${esc(t.displayName)}</h2>
              <p class="muted">${esc(t.kind)} · ${esc(t.category)} · ${esc(t.status)} · version ${t.version} · ${t.members ?? 0} members 人</p>
              ${t.description ? `<p>${esc(t.description)}</p>` : ''}<pre>${esc(t.source)}</pre>
              <p><button id="editTag">edit in the editor 编辑</button>
                <button class="tagAction" data-action="${t.status === 'disabled' ? 'enable' : 'disable'}">${t.status === 'disabled' ? 'enable 启用' : 'disable 停用'}</button>
                <button class="tagAction" data-action="plan-delete">delete 删除…</button></p><div id="tagAction"></div>
              <table><thead><tr><th>profile</th><th>value</th><th>since</th></tr></thead><tbody id="tagMembers"></tbody></table>
              <p><button id="moreMembers" hidden>more 更多</button></p>
              <h2>Changes to the definition 定义变更</h2>
              <table><thead><tr><th>at</th><th>who</th><th>action</th><th>version</th></tr></thead><tbody>${audit.audit.map(a =>
                `<tr><td>${esc(a.at)}</td><td>${esc(a.actor)}</td><td>${esc(a.action)}</td><td>${a.version}</td></tr>`).join('')}</tbody></table>`;
          });
          if (drawn) await moreMembers(0);
        }
        async function moreMembers(after) {
          const page = await api(`/api/tags/${encodeURIComponent(tagPanel.dataset.tag)}/members?limit=20&after=${after}`);
          document.getElementById('tagMembers').insertAdjacentHTML('beforeend', page.members.map(m =>
            `<tr><td>${profileLink(m.profile)}</td><td>${show(m.value)}</td><td>${esc(m.since)}</td></tr>`).join('')
            || (after ? '' : '<tr><td colspan="3">no members</td></tr>'));
          const more = document.getElementById('moreMembers');
          more.hidden = page.next === undefined || page.next === null;
          more.dataset.after = page.next ?? '';
        }
        // Disabling, enabling and deleting a tag; a deletion is planned first and done once confirmed.
        async function tagAction(action) {
          const id = encodeURIComponent(tagPanel.dataset.tag), out = document.getElementById('tagAction');
          const {status, answer} = action === 'plan-delete' ? await send('DELETE', `/api/tags/${id}?dry_run=true`)
            : action === 'delete' ? await send('DELETE', `/api/tags/${id}`) : await post(`/api/tags/${id}/${action}`, '');
          if (!answer.entries && !answer.diagnostics) {
            out.innerHTML = `<p class="err">${esc(answer.message || `answered ${status}`)}</p>`;
            return;
          }
          const done = {disable: 'Disabled 已停用: taken off every profile.', enable: 'Enabled 已启用: back-filled and live.',
            delete: 'Deleted 已删除.'}[action];
          out.innerHTML = planHTML(answer, done) + (action === 'plan-delete' && !(answer.diagnostics || []).length
            ? '<p><button class="tagAction" data-action="delete">confirm delete 确认删除</button></p>' : '');
          if (!answer.applied) return;
          const toggle = tagPanel.querySelector('button.tagAction[data-action="disable"], button.tagAction[data-action="enable"]');
          if (action === 'disable' || action === 'enable') {
            toggle.dataset.action = action === 'disable' ? 'enable' : 'disable';
            toggle.textContent = action === 'disable' ? 'enable 启用' : 'disable 停用';
          }
          refresh();
        }
        document.addEventListener('click', event => {
          const action = event.target.closest('button.tagAction');
          if (action) { tagAction(action.dataset.action); return; }
          const tagLink = event.target.closest('a.tag');
          if (tagLink) { event.preventDefault(); openTag(tagLink.dataset.tag); return; }
          if (event.target.id === 'moreMembers') { moreMembers(event.target.dataset.after); return; }
          const segmentLink = event.target.closest('a.segment');
          if (segmentLink) { event.preventDefault(); openSegment(segmentLink.dataset.segment); return; }
          if (event.target.id === 'exportSegment') { exportSegment(); return; }
          if (event.target.id === 'editTag') {
            document.getElementById('rule').value = tagPanel.source;
            document.getElementById('plan').innerHTML = '<p class="muted">edit, then dry run 试算 and publish 发布</p>';
            document.getElementById('rule').scrollIntoView();
            return;
          }
          const link = event.target.closest('a.profile');
          if (link) { event.preventDefault(); openProfile('/api/profiles/' + link.dataset.profile); return; }
          const why = event.target.closest('button.why');
          if (!why) return;
          if (why.id === 'whyNotButton') { explain(document.getElementById('whyNot').value, document.getElementById('whyNotAnswer')); return; }
          const answer = why.closest('tr').nextElementSibling.firstElementChild;
          if (!answer.parentElement.hidden) { answer.parentElement.hidden = true; return; }
          answer.parentElement.hidden = false;
          explain(why.dataset.tag, answer);
        });
        document.getElementById('find').addEventListener('submit', event => {
          event.preventDefault();
          const q = document.getElementById('lookup').value.trim();
          const colon = q.indexOf(':');
          if (/^\d+$/.test(q)) openProfile('/api/profiles/' + q);
          else if (colon > 0) openProfile(`/api/profiles/lookup?type=${encodeURIComponent(q.slice(0, colon))}&value=${encodeURIComponent(q.slice(colon + 1))}`);
          else { panel.hidden = false; panel.innerHTML = '<p class="err">give a profile number, or an identifier as type:value (for example phone:13800138000)</p>'; }
        });

        // Writing a tag: a dry run says who would gain and lose it (or every problem, where it is); publishing
        // applies the same text.
        // What a plan (the answer to every change of a definition) says: the problems, or who gains and loses what.
        function planHTML(answer, done) {
          const problems = (answer.diagnostics || []).map(d => `<li class="${d.severity === 'error' ? 'err' : ''}">${d.line ? `line ${d.line}, column ${d.column}: ` : ''}${esc(d.message)}${d.suggestion ? ` — ${esc(d.suggestion)}` : ''}</li>`);
          const samples = list => list.length ? ` (${list.map(profileLink).join(', ')}${list.length >= 10 ? ', …' : ''})` : '';
          const entries = (answer.entries || []).filter(e => e.action !== 'unchanged').map(e =>
            `<li><b>${esc(e.action)}</b> <code>${esc(e.tag)}</code> v${e.version}: ${e.membersAfter} profiles ${answer.applied ? 'have' : 'would have'} it (${answer.applied ? 'before' : 'now'} ${e.membersBefore});
              gain ${e.gained}${samples(e.gainedSample)}, lose ${e.lost}${samples(e.lostSample)}${e.changed ? `, value changes ${e.changed}` : ''}</li>`);
          return (problems.length ? `<p class="err">Not done: fix these first 请先修正</p><ul>${problems.join('')}</ul>` : '')
            + (entries.length ? `<ul>${entries.join('')}</ul>` : (problems.length ? '' : '<p class="muted">nothing would change</p>'))
            + (answer.applied ? `<p><b>${done}</b></p>` : '');
        }
        async function plan(apply) {
          const out = document.getElementById('plan');
          out.innerHTML = '<p class="muted">…</p>';
          try {
            const {status, answer} = await post('/api/tags' + (apply ? '' : '?dry_run=true'),
              JSON.stringify({source: document.getElementById('rule').value}));
            if (!answer.entries && !answer.diagnostics) throw new Error(answer.message || `answered ${status}`);
            out.innerHTML = planHTML(answer, 'Published 已发布: back-filled and live.');
            if (answer.applied) refresh();
          } catch (e) { out.innerHTML = `<p class="err">${esc(e.message)}</p>`; }
        }
        // An audience: its rule, size, members with their identifiers, entries and exits, size by day, export.
        const segmentPanel = document.getElementById('segmentPanel');
        function openSegment(id) {
          return fill(segmentPanel, async () => {
            const path = '/api/segments/' + encodeURIComponent(id);
            const [g, members, history, sizes] = await Promise.all([api(path), api(path + '/members?limit=20'),
              api(path + '/history?limit=10'), api(path + '/size-history?interval=day')]);
            segmentPanel.dataset.segment = id;
            return `<h2>Audience 人群 ${esc(g.id)} ${esc(g.displayName)}</h2>
              <p class="muted">${esc(g.status)} · version ${g.version} · ${g.members ?? 0} members 人${g.problem ? ` · <span class="err">${esc(g.problem)}</span>` : ''}</p>
              <pre>${esc(g.source)}</pre>
              <p><button id="exportSegment">export CSV 导出</button> <span id="exported" class="muted"></span></p>
              <div class="cols"><div><h2>Members 成员</h2><table><thead><tr><th>profile</th><th>since</th><th>identifiers</th></tr></thead><tbody id="segmentMembers">
                ${members.members.map(m => `<tr><td>${profileLink(m.profile)}</td><td>${esc(m.since)}</td><td>${m.identifiers.map(i => `<code>${esc(i.type)}: ${esc(i.value)}</code>`).join(' ')}</td></tr>`).join('')
                  || '<tr><td colspan="3">no members</td></tr>'}</tbody></table></div>
              <div><h2>Entries and exits 进出</h2><table><thead><tr><th>at</th><th>profile</th><th></th><th>cause</th></tr></thead><tbody id="segmentHistory">
                ${history.history.map(h => `<tr><td>${esc(h.at)}</td><td>${profileLink(h.profile)}</td><td>${esc(h.transition)}</td><td>${esc(h.cause)}</td></tr>`).join('')}</tbody></table>
              <h2>Size by day 每日规模</h2><table><thead><tr><th>day</th><th>size</th><th>entered</th><th>exited</th></tr></thead><tbody>
                ${sizes.points.map(p => `<tr><td>${esc(p.period).slice(0, 10)}</td><td>${p.size}</td><td>${p.entered}</td><td>${p.exited}</td></tr>`).join('')}</tbody></table></div></div>`;
          });
        }
        async function exportSegment() {
          const id = segmentPanel.dataset.segment, out = document.getElementById('exported');
          const r = await fetch(`/api/segments/${encodeURIComponent(id)}/export?format=csv`, {headers: {Authorization: 'Bearer ' + tokenInput.value}});
          if (!r.ok) { out.className = 'err'; out.textContent = (await r.json().catch(() => ({}))).message || `answered ${r.status}`; return; }
          const file = document.createElement('a');
          file.href = URL.createObjectURL(await r.blob());
          file.download = `${id}.csv`;
          file.click();
          out.textContent = `${r.headers.get('X-Tagflow-Members')} members exported 已导出 (${id}.csv)`;
        }
        // Tag governance: each tag's and value's coverage, and what the overlaps suggest.
        function showGovernance() {
          return fill(document.getElementById('coverage'), async () => {
            const g = await api('/api/tags/governance');
            const share = n => g.profiles ? n / g.profiles : 0;
            return `<table><thead><tr><th>tag or value</th><th>coverage 覆盖率 (of ${g.profiles} profiles)</th></tr></thead><tbody id="coverageRows">
              ${g.tags.map((t, i) => `<tr><td>${esc(t)}</td><td><span class="bar" style="width:${Math.round(share(g.members[i]) * 300)}px"></span>${g.members[i]} · ${(share(g.members[i]) * 100).toFixed(1)}%</td></tr>`).join('')}</tbody></table>
              <h2>Findings 发现</h2><ul id="findings">${g.findings.map(f => `<li><b>${esc(f.kind)}</b>: ${esc(f.detail)}</li>`).join('') || '<li>none</li>'}</ul>`;
          });
        }
        document.getElementById('governance').addEventListener('click', showGovernance);

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
        document.getElementById('dryRun').addEventListener('click', () => plan(false));
        document.getElementById('publish').addEventListener('click', () => plan(true));
        refresh(); setInterval(refresh, 1000);
        """#
}
