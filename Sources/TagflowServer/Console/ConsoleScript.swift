/// What the console does in the browser: reads the admin API with the token it is given (refreshing the live
/// view every second) and draws the panels a click opens. Plain JavaScript, no build step: ``ConsolePage``
/// serves it inline, its parts joined into one script (functions are shared between them by name).
enum ConsoleScript {
    static let source = [basics, live, profiles, tags, audiences, operations, clicks, start].joined(separator: "\n")

    /// The token, the admin API, escaping, and drawing a panel from the API's answers.
    static let basics = #"""
        const tokenInput = document.getElementById('token');
        tokenInput.value = new URLSearchParams(location.hash.slice(1)).get('token') || localStorage.getItem('tagflowToken') || '';
        tokenInput.addEventListener('change', () => { localStorage.setItem('tagflowToken', tokenInput.value); refresh(); });
        const labels = {eventsAccepted:'events accepted 已接收', eventsDeduplicated:'de-duplicated 去重', eventsQuarantined:'quarantined 隔离', quarantinePending:'pending in quarantine 待处理',
          profiles:'profiles 用户', identifiers:'identifiers 标识', mergesAccepted:'merges 合并', mergesRefused:'refused merges 拒绝合并',
          ingestQueueWaiting:'write queue 队列'};
        const esc = v => String(v ?? '').replace(/&/g,'&amp;').replace(/</g,'&lt;').replace(/"/g,'&quot;');
        const show = v => v === undefined || v === null ? '—' : esc(typeof v === 'string' ? v : JSON.stringify(v));
        const identifiersHTML = list => list.map(i => `<code>${esc(i.type)}: ${esc(i.value)}</code>`).join(' ');
        const profileLink = id => `<a class="profile" data-profile="${Number(id)}">${Number(id)}</a>`;
        let tagNames = {};
        // The admin API with the token: `send` answers whatever came back (a refused plan carries its problems).
        async function send(method, path, body) {
          const r = await fetch(path, {method, body,
            headers: {Authorization: 'Bearer ' + tokenInput.value, 'Content-Type': 'application/json'}});
          return {ok: r.ok, status: r.status, answer: await r.json().catch(() => ({}))};
        }
        const post = (path, body) => send('POST', path, body);
        // A GET's answer, or an error saying why there is none.
        async function api(path) {
          const {ok, status, answer} = await send('GET', path);
          if (!ok) throw new Error(answer.message || `${path} answered ${status}`);
          return answer;
        }
        // A change of a definition (a tag's or an audience's): its plan, or an error when the answer is none.
        async function sendPlan(method, path, body) {
          const {status, answer} = await send(method, path, body);
          if (!answer.entries && !answer.diagnostics) throw new Error(answer.message || `${path} answered ${status}`);
          return answer;
        }
        // Shows `element` with what `draw` makes of the API's answers, or the error that stopped it; true when drawn.
        async function fill(element, draw) {
          element.hidden = false;
          try { element.innerHTML = await draw(); return true; }
          catch (e) { element.innerHTML = `<p class="err">${esc(e.message)}</p>`; return false; }
        }
        """#

    /// One listener for the links and buttons the panels draw (profiles, tags, audiences, explanations).
    static let clicks = #"""
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
        """#

    /// The live view, drawn now and every second after.
    static let start = #"""
        refresh(); setInterval(refresh, 1000);
        """#
}
