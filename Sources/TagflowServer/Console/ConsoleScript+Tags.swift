extension ConsoleScript {
    /// A tag: its definition, members and audit; its lifecycle; the editor's dry run and publishing.
    static let tags = #"""
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
          let answer;
          try {
            answer = action === 'plan-delete' ? await sendPlan('DELETE', `/api/tags/${id}?dry_run=true`)
              : action === 'delete' ? await sendPlan('DELETE', `/api/tags/${id}`) : await sendPlan('POST', `/api/tags/${id}/${action}`, '');
          } catch (e) { out.innerHTML = `<p class="err">${esc(e.message)}</p>`; return; }
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
        // Writing a tag: a dry run says who would gain and lose it (or every problem, where it is); publishing
        // applies the same text.
        async function plan(apply) {
          const out = document.getElementById('plan');
          out.innerHTML = '<p class="muted">…</p>';
          try {
            const answer = await sendPlan('POST', '/api/tags' + (apply ? '' : '?dry_run=true'),
              JSON.stringify({source: document.getElementById('rule').value}));
            out.innerHTML = planHTML(answer, 'Published 已发布: back-filled and live.');
            if (answer.applied) refresh();
          } catch (e) { out.innerHTML = `<p class="err">${esc(e.message)}</p>`; }
        }
        document.getElementById('dryRun').addEventListener('click', () => plan(false));
        document.getElementById('publish').addEventListener('click', () => plan(true));
        """#
}
