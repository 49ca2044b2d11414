extension ConsoleScript {
    /// The live view: counters, events a second, top events, tags, audiences, changes and the event log.
    static let live = #"""
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
              `<tr><td>${e.seq}</td><td>${esc(e.timestamp)}</td><td>${esc(e.type)}</td><td>${esc(e.name)}</td><td>${profileLink(e.profileId)}</td></tr>`).join('')
              || '<tr><td colspan="5">none yet: send one with a write key (POST /v1/track, as Segment\'s libraries do; README "Quick start")</td></tr>';
            const tags = (await api('/api/tags')).tags;
            tagNames = Object.fromEntries(tags.map(t => [t.id, t.displayName]));
            document.getElementById('tags').innerHTML = tags.map(t =>
              `<tr><td><a class="tag" data-tag="${esc(t.id)}">${esc(t.id)}</a></td><td>${esc(t.displayName)}</td><td>${esc(t.category)}</td><td>${t.members ?? 0}</td><td>${moved(t.id, t.members ?? 0)}</td></tr>`).join('')
              || '<tr><td colspan="5">none yet: write one above, or <code>tagflow tags apply DIR</code> (docs/rules.md)</td></tr>';
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
              `<tr><td title="${esc(c.at)}">${esc(c.at).slice(11, 23)}</td><td>${profileLink(c.profile)}</td><td>${esc(c.tag)}</td><td>${show(c.old)} → ${show(c.new)}</td><td>${esc(c.cause)}</td></tr>`).join('')
              || '<tr><td colspan="5">none yet</td></tr>';
            document.getElementById('live').hidden = false;
            document.getElementById('err').textContent = '';
          } catch (e) { document.getElementById('err').textContent = e.message; }
        }

        """#
}
