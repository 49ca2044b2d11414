extension ConsoleScript {
    /// A profile: found by number or identifier; its identifiers, traits, tags, history, events, and why.
    static let profiles = #"""
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
              <p><b>identifiers 标识</b> ${identifiersHTML(p.identifiers) || '—'}</p>
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
        document.getElementById('find').addEventListener('submit', event => {
          event.preventDefault();
          const q = document.getElementById('lookup').value.trim();
          const colon = q.indexOf(':');
          if (/^\d+$/.test(q)) openProfile('/api/profiles/' + q);
          else if (colon > 0) openProfile(`/api/profiles/lookup?type=${encodeURIComponent(q.slice(0, colon))}&value=${encodeURIComponent(q.slice(colon + 1))}`);
          else { panel.hidden = false; panel.innerHTML = '<p class="err">give a profile number, or an identifier as type:value (for example phone:13800138000)</p>'; }
        });

        """#
}
