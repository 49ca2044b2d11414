/// The page served at `/`, the console: live counters, tags and their latest changes, audiences and the event
/// log; a profile's identifiers, traits, tags (why it has each, or not), tag history and events; a tag written,
/// dry-run and published; a tag's definition, members and audit; an audience's members, entries, exits, size
/// by day and export; tag coverage and overlap; destinations with their outboxes and automations, tested on
/// demand; the quarantine, corrected and replayed or discarded. Its markup and styles are here, what it does
/// in ``ConsoleScript``; all of it reads and writes through the admin API alone.
enum ConsolePage {
    static let html = #"""
        <!doctype html>
        <html lang="zh-CN"><head><meta charset="utf-8"><title>Tagflow</title><link rel="icon" href="data:,">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <style>
          body{font-family:system-ui,-apple-system,"PingFang SC","Noto Sans CJK SC",sans-serif;margin:2rem;color:#1d2433;background:#f6f7fb}
          h1{font-size:1.4rem;margin:0 0 .2rem} p.sub{color:#667;margin:0 0 1.2rem}
          .grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(170px,1fr));gap:.8rem;margin-bottom:1.4rem}
          .card{background:#fff;border-radius:10px;padding:.9rem 1rem;box-shadow:0 1px 3px #0001}
          .card b{display:block;font-size:1.6rem} .card span{color:#667;font-size:.85rem}
          table{width:100%;border-collapse:collapse;background:#fff;border-radius:10px;overflow:hidden;box-shadow:0 1px 3px #0001}
          td,th{padding:.45rem .7rem;border-bottom:1px solid #eef;font-size:.85rem;text-align:left;vertical-align:top}
          #login{background:#fff;padding:1rem;border-radius:10px;max-width:520px} input{width:100%;padding:.5rem;font-size:1rem;box-sizing:border-box}
          .err{color:#b00} h2{font-size:1rem;margin:1.2rem 0 .5rem}
          .cols{display:grid;grid-template-columns:1fr 1fr;gap:1rem} @media(max-width:900px){.cols{grid-template-columns:1fr}}
          a.profile,button.why{color:#2453d6;cursor:pointer;background:none;border:none;padding:0;font:inherit;text-decoration:underline}
          #profile,.panel{background:#fff;border-radius:10px;padding:1rem;box-shadow:0 1px 3px #0001;margin-top:1rem}
          a.tag,a.segment{color:#2453d6;cursor:pointer;text-decoration:underline}
          .bar{display:inline-block;height:.6rem;background:#5b7be0;border-radius:3px;vertical-align:middle;margin-right:.4rem} pre{background:#f0f2f8;padding:.6rem;border-radius:6px;white-space:pre-wrap}
          #find{display:flex;gap:.5rem;max-width:520px;margin-top:1rem} #find input{flex:1} #find button{padding:.5rem 1rem}
          ul.explain{margin:.3rem 0;padding-left:1.2rem;font-size:.85rem} ul.explain code{background:#f0f2f8;padding:0 .2rem}
          .muted{color:#667}
          #editor{background:#fff;border-radius:10px;padding:1rem;box-shadow:0 1px 3px #0001}
          #rule{width:100%;box-sizing:border-box;font:.9rem ui-monospace,monospace;padding:.5rem} #editor button{padding:.4rem .9rem}
        </style></head>
        <body>
        <h1>Tagflow 标签数据平台</h1><p class="sub">Live events, OneID profiles and tags 实时事件、用户与标签</p>
        <div id="login"><label>Admin token <input id="token" type="password" placeholder="tfa_…"></label>
        <p class="err" id="err"></p></div>
        <div id="live" hidden>
          <div class="grid" id="cards"></div>
          <div class="cols"><div class="panel" style="margin-top:0"><b>events per second 每秒事件</b> <span id="rate" class="muted"></span>
            <svg id="spark" viewBox="0 0 300 60" preserveAspectRatio="none" style="width:100%;height:70px"></svg></div>
            <div class="panel" style="margin-top:0"><b>top events (latest 200) 热门事件</b><table><tbody id="topEvents"></tbody></table></div></div>
          <form id="find"><input id="lookup" placeholder="profile number, or an identifier as type:value (phone:13800138000) 查找用户"><button>Find 查找</button></form>
          <div id="profile" hidden></div>
          <div id="tagPanel" class="panel" hidden></div>
          <div id="segmentPanel" class="panel" hidden></div>
          <h2>Write a tag 编写标签</h2>
          <div id="editor"><textarea id="rule" rows="4" spellcheck="false">tag hot_hyaluronic "热门-玻尿酸"
          category interest
          when count(view_item where project = "玻尿酸") in last 1 days >= 2</textarea>
          <p><button id="dryRun">Dry run 试算</button> <button id="publish">Publish 发布</button>
          <span class="muted">rule language: docs/rules.md · a dry run changes nothing; publishing back-fills the history first</span></p>
          <div id="plan"></div></div>
          <div class="cols">
            <div><h2>Tags 标签</h2><table><thead><tr><th>tag</th><th>name 名称</th><th>category</th><th>members 人数</th><th title="members now against a minute ago">1 min</th></tr></thead><tbody id="tags"></tbody></table></div>
            <div><h2>Tag changes 标签变化</h2><table><thead><tr><th>at</th><th>profile</th><th>tag</th><th>change</th><th>cause</th></tr></thead><tbody id="changes"></tbody></table></div>
          </div>
          <h2>Audiences 人群</h2>
          <table><thead><tr><th>audience</th><th>name 名称</th><th>rule</th><th>members 人数</th></tr></thead><tbody id="segments"></tbody></table>
          <h2>Tag coverage and overlap 标签覆盖与重叠 <button id="governance">analyse 分析</button></h2>
          <div id="coverage"><p class="muted">Who has each tag (and each value), and the tags that nobody or everybody has, or that
            hold nearly the same profiles: candidates to merge or retire. 覆盖率、无人/全员标签与近似重复标签。</p></div>
          <h2>Destinations 推送</h2>
          <table><thead><tr><th>destination</th><th>url</th><th>status</th><th>outbox 发件箱</th><th>automations 自动化</th><th></th></tr></thead><tbody id="destinations"></tbody></table>
          <p id="destinationTest" class="muted"></p>
          <h2>Quarantine 隔离区 <button id="showQuarantine">show 查看</button></h2>
          <div id="quarantine"><p class="muted">Messages refused one by one (the rest of their batch was accepted), each kept with the reason,
            until corrected and replayed, or discarded. 被拒收的消息及原因：修正后重放，或丢弃。</p></div>
          <h2>Events 事件</h2>
          <table><thead><tr><th>#</th><th>time</th><th>type</th><th>event</th><th>profile</th></tr></thead><tbody id="events"></tbody></table>
        </div>
        <script>
        """# + ConsoleScript.source + #"""
        </script></body></html>
        """#
}
