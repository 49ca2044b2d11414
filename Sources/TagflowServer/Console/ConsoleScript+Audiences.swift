extension ConsoleScript {
    /// An audience's members, entries and exits, size by day and export; tag coverage and overlap.
    static let audiences = #"""
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
                ${members.members.map(m => `<tr><td>${profileLink(m.profile)}</td><td>${esc(m.since)}</td><td>${identifiersHTML(m.identifiers)}</td></tr>`).join('')
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

        """#
}
