/// The page served at `/`: live counters, tags and their latest changes, audiences, and the event log, from
/// the admin API, until the full console exists.
enum ConsolePage {
    static let html = """
        <!doctype html>
        <html lang="zh-CN"><head><meta charset="utf-8"><title>Tagflow</title>
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <style>
          body{font-family:system-ui,-apple-system,"PingFang SC","Noto Sans CJK SC",sans-serif;margin:2rem;color:#1d2433;background:#f6f7fb}
          h1{font-size:1.4rem;margin:0 0 .2rem} p.sub{color:#667;margin:0 0 1.2rem}
          .grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(170px,1fr));gap:.8rem;margin-bottom:1.4rem}
          .card{background:#fff;border-radius:10px;padding:.9rem 1rem;box-shadow:0 1px 3px #0001}
          .card b{display:block;font-size:1.6rem} .card span{color:#667;font-size:.85rem}
          table{width:100%;border-collapse:collapse;background:#fff;border-radius:10px;overflow:hidden;box-shadow:0 1px 3px #0001}
          td,th{padding:.45rem .7rem;border-bottom:1px solid #eef;font-size:.85rem;text-align:left}
          #login{background:#fff;padding:1rem;border-radius:10px;max-width:520px} input{width:100%;padding:.5rem;font-size:1rem}
          .err{color:#b00} h2{font-size:1rem;margin:1.2rem 0 .5rem}
          .cols{display:grid;grid-template-columns:1fr 1fr;gap:1rem} @media(max-width:900px){.cols{grid-template-columns:1fr}}
        </style></head>
        <body>
        <h1>Tagflow 标签数据平台</h1><p class="sub">Live events, OneID profiles and tags 实时事件、用户与标签</p>
        <div id="login"><label>Admin token <input id="token" type="password" placeholder="tfa_…"></label>
        <p class="err" id="err"></p></div>
        <div id="live" hidden>
          <div class="grid" id="cards"></div>
          <div class="cols">
            <div><h2>Tags 标签</h2><table><thead><tr><th>tag</th><th>name 名称</th><th>category</th><th>members 人数</th></tr></thead><tbody id="tags"></tbody></table></div>
            <div><h2>Tag changes 标签变化</h2><table><thead><tr><th>at</th><th>profile</th><th>tag</th><th>change</th><th>cause</th></tr></thead><tbody id="changes"></tbody></table></div>
          </div>
          <h2>Audiences 人群</h2>
          <table><thead><tr><th>audience</th><th>name 名称</th><th>rule</th><th>members 人数</th></tr></thead><tbody id="segments"></tbody></table>
          <h2>Events 事件</h2>
          <table><thead><tr><th>#</th><th>time</th><th>type</th><th>event</th><th>profile</th></tr></thead><tbody id="events"></tbody></table>
        </div>
        <script>
        const tokenInput = document.getElementById('token');
        tokenInput.value = new URLSearchParams(location.hash.slice(1)).get('token') || localStorage.getItem('tagflowToken') || '';
        tokenInput.addEventListener('change', () => { localStorage.setItem('tagflowToken', tokenInput.value); refresh(); });
        const labels = {eventsAccepted:'events accepted 已接收', eventsDeduplicated:'de-duplicated 去重', eventsQuarantined:'quarantined 隔离',
          profiles:'profiles 用户', identifiers:'identifiers 标识', mergesAccepted:'merges 合并', mergesRefused:'refused merges 拒绝合并',
          ingestQueueWaiting:'write queue 队列'};
        async function api(path) {
          const r = await fetch(path, {headers: {Authorization: 'Bearer ' + tokenInput.value}});
          if (!r.ok) throw new Error((await r.json()).message || r.status);
          return r.json();
        }
        async function refresh() {
          if (!tokenInput.value) return;
          try {
            const stats = await api('/api/stats');
            document.getElementById('cards').innerHTML = Object.entries(labels)
              .map(([k, l]) => `<div class="card"><b>${stats[k] ?? 0}</b><span>${l}</span></div>`).join('');
            const after = Math.max(0, stats.lastSequence - 15);
            const events = (await api('/api/events?limit=15&after=' + after)).events.reverse();
            document.getElementById('events').innerHTML = events.map(e =>
              `<tr><td>${e.seq}</td><td>${e.timestamp}</td><td>${e.type}</td><td>${(e.name || '').replace(/</g,'&lt;')}</td><td>${e.profileId}</td></tr>`).join('');
            const esc = v => String(v ?? '').replace(/&/g,'&amp;').replace(/</g,'&lt;');
            const show = v => v === undefined || v === null ? '—' : esc(typeof v === 'string' ? v : JSON.stringify(v));
            const tags = (await api('/api/tags')).tags;
            document.getElementById('tags').innerHTML = tags.map(t =>
              `<tr><td>${esc(t.id)}</td><td>${esc(t.displayName)}</td><td>${esc(t.category)}</td><td>${t.members ?? 0}</td></tr>`).join('');
            const segments = (await api('/api/segments')).segments;
            const rule = source => source.replace(/^[\\s\\S]*?\\bwhen\\s+/, '').replace(/\\s+/g, ' ');
            document.getElementById('segments').innerHTML = segments.map(s =>
              `<tr><td>${esc(s.id)}</td><td>${esc(s.displayName)}</td><td><code>${esc(rule(s.source || ''))}</code></td><td>${s.members ?? 0}</td></tr>`).join('')
              || '<tr><td colspan="4">none yet: define one in a .tags file (`segment …`) or with POST /api/segments</td></tr>';
            const changes = (await api('/api/tag-changes?limit=15')).history;
            document.getElementById('changes').innerHTML = changes.map(c =>
              `<tr><td title="${esc(c.at)}">${esc(c.at).slice(11, 23)}</td><td>${c.profile}</td><td>${esc(c.tag)}</td><td>${show(c.old)} → ${show(c.new)}</td><td>${esc(c.cause)}</td></tr>`).join('');
            document.getElementById('live').hidden = false;
            document.getElementById('err').textContent = '';
          } catch (e) { document.getElementById('err').textContent = e.message; }
        }
        refresh(); setInterval(refresh, 1000);
        </script></body></html>
        """
}
