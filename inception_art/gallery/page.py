"""The gallery's ``index.html``: one static page, no external assets.

A grid of thumbnails, each with its label, class index and WordNet id; a
text filter (it matches those and the WordNet categories above a class, so
``dog`` shows the dogs); a click shows the full picture (arrow keys step
through what the filter shows, Escape closes it); the settings and the
date. The page works from ``file://`` and any static server: the CSS and
the script are inline and every link is relative. It is rewritten
(atomically) as pictures arrive, and while a run goes on it says so and
reloads itself now and then, unless its reader is filtering or looking.
"""
import html
import time

from .. import imagenet, recipes, wordnet
from ..images import atomic_path
from ..settings import show

NAME = 'index.html'
#: Seconds between reloads of a page whose run is still going.
RELOAD_SECONDS = 20

_STYLE = '''
body { font: 14px/1.4 system-ui, sans-serif; margin: 0; background: #111; color: #ddd; }
header { padding: 12px 16px; }
h1 { font-size: 20px; margin: 0 0 4px; }
#filter { font-size: 16px; padding: 4px 8px; width: 22em; max-width: 90%; }
#count, .meta { color: #999; }
details { margin-top: 6px; max-width: 60em; }
code { color: #bbb; }
code span { white-space: nowrap; }
main { display: grid; gap: 12px; padding: 12px 16px;
       grid-template-columns: repeat(auto-fill, minmax(@CELL@px, 1fr)); }
figure { margin: 0; }
figure img { width: 100%; height: auto; display: block; cursor: zoom-in; background: #222; }
figcaption { font-size: 13px; overflow-wrap: anywhere; }
#viewer { position: fixed; inset: 0; background: #000e; display: flex; flex-direction: column;
          align-items: center; justify-content: center; z-index: 2; cursor: zoom-out; }
#viewer[hidden] { display: none; }
#viewer img { max-width: 96vw; max-height: 88vh; }
'''

_SCRIPT = '''
const filter = document.getElementById('filter');
const items = [...document.querySelectorAll('figure.item')];
const count = document.getElementById('count');
const viewer = document.getElementById('viewer');
const full = document.getElementById('full');
const caption = document.getElementById('caption');
let current = null;
function apply() {
  const words = filter.value.toLowerCase().split(/\\s+/).filter(Boolean);
  let shown = 0;
  for (const item of items) {
    const text = item.dataset.search;
    const hit = words.every(w => text.includes(w));
    item.hidden = !hit;
    shown += hit;
  }
  count.textContent = shown + ' of ' + items.length + ' shown';
}
function open(item) {
  current = item;
  const link = item.querySelector('a');
  full.src = link.getAttribute('href');
  full.alt = item.querySelector('.label').textContent;
  caption.textContent = item.querySelector('figcaption').textContent;
  viewer.hidden = false;
}
function step(by) {
  const visible = items.filter(i => !i.hidden);
  const at = visible.indexOf(current);
  if (visible.length) open(visible[(at + by + visible.length) % visible.length]);
}
filter.addEventListener('input', apply);
for (const item of items) {
  item.querySelector('a').addEventListener('click', e => { e.preventDefault(); open(item); });
}
viewer.addEventListener('click', () => { viewer.hidden = true; });
document.addEventListener('keydown', e => {
  if (viewer.hidden) return;
  if (e.key === 'Escape') viewer.hidden = true;
  if (e.key === 'ArrowRight') step(1);
  if (e.key === 'ArrowLeft') step(-1);
});
apply();
if (document.body.dataset.running === 'yes') {
  setInterval(() => {
    if (!filter.value && viewer.hidden) location.reload();
  }, @RELOAD@ * 1000);
}
'''


def _search_text(index, wnid):
    """What the filter matches for a class: index, WordNet id, label and
    the names of the synsets above it."""
    above = sorted({wordnet.name(w) for w in wordnet.ancestors(wnid)})
    return ' '.join([str(index), wnid, imagenet.LABELS[index]] + above).lower()


def _figure(entry):
    index, wnid = entry['index'], entry['wnid']
    label = imagenet.LABELS[index]
    return ('<figure class="item" data-search="%s"><a href="%s"><img src="%s" alt="%s" '
            'loading="lazy"></a><figcaption><span class="label">%s</span> '
            '<span class="meta">%d &middot; %s</span></figcaption></figure>'
            % (html.escape(_search_text(index, wnid)), html.escape(entry['picture']),
               html.escape(entry['thumbnail']), html.escape(label), html.escape(label),
               index, wnid))


def _settings_flags(s):
    """Every render setting of ``s`` as the render command's flags (HTML)."""
    return ' '.join('<span>%s %s</span>' % (setting.option,
                                            html.escape(show(s[setting.name], setting)))
                    for setting in recipes.SETTINGS)


def render_page(entries, s, pending=0, cell=192, now=None):
    """The page's HTML for ``entries`` (manifest entries, in order) rendered
    with settings ``s``; ``pending`` pictures still to come."""
    now = now or time.gmtime()
    total = len(entries) + pending
    if pending:
        status = ('rendering: %d of %d pictures so far; this page is rewritten as '
                  'they arrive' % (len(entries), total))
    else:
        status = '%d pictures' % len(entries)
    seconds = sum(e['seconds'] for e in entries)
    title = 'What %s dreams: %d ImageNet classes' % (s['model'], total)
    return '\n'.join([
        '<!DOCTYPE html>',
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        '<title>%s</title>' % html.escape(title),
        '<style>%s</style></head>' % _STYLE.replace('@CELL@', str(int(cell))),
        '<body data-running="%s">' % ('yes' if pending else 'no'),
        '<header><h1>%s</h1>' % html.escape(title),
        '<p id="status">%s &middot; updated %s UTC &middot; %.0f s of rendering in all</p>'
        % (status, time.strftime('%Y-%m-%d %H:%M', now), seconds),
        '<input id="filter" type="search" placeholder="filter: label, index, WordNet id, '
        'category (dog, bird)" aria-label="filter"> <span id="count"></span>',
        '<details><summary>render settings</summary><p>Each picture is <code>python -m '
        'inception_art.render --class CLASS %s</code></p></details></header>'
        % _settings_flags(s),
        '<main id="grid">',
        '\n'.join(_figure(e) for e in entries),
        '</main>',
        '<div id="viewer" hidden><img id="full" alt=""><p id="caption"></p></div>',
        '<script>%s</script>' % _SCRIPT.replace('@RELOAD@', str(RELOAD_SECONDS)),
        '</body></html>', ''])


def write_page(folder, entries, s, pending=0, cell=192):
    """Write ``folder/index.html`` atomically; return its path."""
    path = folder / NAME
    with atomic_path(path) as tmp:
        tmp.write_text(render_page(entries, s, pending, cell), encoding='utf-8')
    return path
