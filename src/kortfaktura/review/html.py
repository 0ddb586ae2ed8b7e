"""The review (genomlysning, DOMAIN.md R18) as one printable HTML page, for the finance officer
and the auditor to read and sign.

One self-contained file: no script, no external resource of any kind (the charts are inline SVG
written here, the style is inline, the fonts are the system's), so it opens the same offline, in
an e-mail attachment or an archive in ten years. A Content-Security-Policy forbids loading
anything, in case a reader's browser is asked to. Every text from the data is escaped: customer
names and order ids come from imported files.

Printed on A4: table headers repeat on each page, rows and charts are not split, and each page's
margin carries the period, the start of the checksum and the page number. Long lists stop at
``HTML_LIST_CAP`` rows (counted per reason and customer above them); the Excel report has all.
"""

import math
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from decimal import Decimal
from html import escape

from kortfaktura import swedish
from kortfaktura.review.rendering import HTML_LIST_CAP, WritesFile, gap_ranges, period_text
from kortfaktura.review.report import (
    STATE_LABELS,
    STATES,
    MonthRow,
    OrderFinding,
    Review,
    listed,
)

TITLE = "Genomlysning av fakturering"


class Html(str):
    """Markup that is already safe; every other value is escaped on its way into the page."""

    __slots__ = ()


def h(value: object) -> Html:
    if isinstance(value, Html):
        return value
    return Html(escape(str(value), quote=True))


def join(parts: Iterable[str]) -> Html:
    return Html("".join(parts))


def capitalised(text: str) -> str:
    return text[:1].upper() + text[1:]


class HtmlReport(WritesFile):
    """``HtmlReport().render(review)``: the review as a UTF-8 HTML5 document."""

    extension = "html"
    media_type = "text/html; charset=utf-8"

    def render(self, review: Review) -> bytes:
        return _page(review).encode("utf-8")


# --- The page -------------------------------------------------------------------------------


def _page(review: Review) -> str:
    period = period_text(review)
    sections = [
        _status(review),
        _discrepancies(review),
        _charts(review),
        _months_table(review),
        _findings(
            review.held_back,
            key="tillbakahallna",
            heading="Tillbakahållna beställningar",
            empty="Inga beställningar hålls tillbaka.",
            intro=(
                "Fakturerbara beställningar som något hindrar från att faktureras nu, med skälet "
                "och vad som släpper dem."
            ),
        ),
        _findings(
            review.unbilled,
            key="ej-fakturerade",
            heading="Ej fakturerade beställningar",
            empty="Alla fakturerbara beställningar är med i en körning.",
            intro=(
                "Fakturerbara beställningar som inget hindrar men som ännu inte är med i "
                "någon körning."
            ),
        ),
        _pending_changes(review),
        _customer_data(review),
        _numbering(review),
        _invalid_documents(review),
        _chains(review),
        _bookkeeping(review),
        _payments(review),
        _customers_table(review),
        _sign_off(review),
    ]
    return "".join(
        [
            "<!DOCTYPE html>\n",
            '<html lang="sv">\n<head>\n<meta charset="utf-8">\n',
            '<meta name="viewport" content="width=device-width, initial-scale=1">\n',
            # Nothing may be loaded: no script, no font, no image, no style sheet from anywhere.
            '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
            "style-src 'unsafe-inline'; img-src data:\">\n",
            '<meta name="generator" content="Kortfaktura">\n',
            f"<title>{h(TITLE)} – {h(period)}</title>\n",
            f"<style>\n{_css(review, period)}</style>\n</head>\n<body>\n",
            _header(review, period),
            _contents(),
            "<main>\n",
            *sections,
            "</main>\n",
            _footer(review),
            "</body>\n</html>\n",
        ]
    )


def _css_string(text: str) -> str:
    """A CSS string literal that nothing inside it can break out of (not even ``</style>``)."""
    escaped = "".join(
        char if (char.isalnum() and char.isascii()) or char in " .,:–·…" else f"\\{ord(char):x} "
        for char in text
    )
    return f'"{escaped}"'


def _css(review: Review, period: str) -> str:
    margin_note = _css_string(f"{TITLE} · {period} · kontrollsumma {review.checksum[:16]}…")
    return (
        """:root{--ok:#1a7f37;--ok-bg:#e8f5ec;--bad:#b3261e;--bad-bg:#fdecea;--line:#c8ccd0;
--muted:#4a4f55;color-scheme:light}
*{box-sizing:border-box}
html{font-family:system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans","Liberation Sans",
"DejaVu Sans",Arial,sans-serif;font-size:15px;line-height:1.4;color:#16181a;background:#fff}
body{margin:0 auto;max-width:1120px;padding:24px}
h1{font-size:1.7rem;margin:0 0 .3rem}
h2{font-size:1.25rem;margin:2rem 0 .5rem;padding-bottom:.2rem;border-bottom:2px solid #16181a;
break-after:avoid}
h3{font-size:1.05rem;margin:1.2rem 0 .4rem;break-after:avoid}
p{margin:.4rem 0}
.muted{color:var(--muted)}
.meta{display:grid;grid-template-columns:max-content 1fr;gap:.15rem 1rem;margin:.6rem 0 0}
.meta dt{font-weight:600}.meta dd{margin:0}
.checksum{font-family:ui-monospace,"DejaVu Sans Mono","Liberation Mono",monospace;
font-size:.85em;overflow-wrap:anywhere}
nav ol{columns:3;margin:.8rem 0;padding-left:1.4rem;font-size:.9rem}
nav a{color:inherit}
.status{border:3px solid;border-radius:6px;padding:.8rem 1rem;margin:1.2rem 0;break-inside:avoid;
print-color-adjust:exact;-webkit-print-color-adjust:exact}
.status.ok{border-color:var(--ok);background:var(--ok-bg)}
.status.bad{border-color:var(--bad);background:var(--bad-bg)}
.verdict{font-size:1.35rem;font-weight:700;margin:0 0 .3rem;letter-spacing:.02em}
.ok .verdict{color:var(--ok)}.bad .verdict{color:var(--bad)}
.summary{font-size:1.1rem;font-weight:600;margin:0}
.keys{display:grid;grid-template-columns:repeat(auto-fill,minmax(190px,1fr));gap:.4rem;
margin:.8rem 0 0;padding:0}
.keys div{background:#fff;border:1px solid var(--line);border-radius:4px;padding:.3rem .5rem}
.keys dt{font-size:.8rem;color:var(--muted)}
.keys dd{margin:0;font-size:1.05rem;font-weight:700;font-variant-numeric:tabular-nums;
white-space:nowrap}
section.alert{border:3px solid var(--bad);background:var(--bad-bg);padding:0 1rem .8rem;
border-radius:6px;print-color-adjust:exact;-webkit-print-color-adjust:exact}
section.alert h2{color:var(--bad);border-color:var(--bad)}
table{border-collapse:collapse;width:100%;margin:.4rem 0 .8rem;font-size:.82rem}
caption{text-align:left;font-weight:600;padding:.2rem 0;caption-side:top}
th,td{border-bottom:1px solid var(--line);padding:.2rem .35rem;text-align:left;
vertical-align:top}
thead th{border-bottom:2px solid #16181a;background:#f1f3f5;vertical-align:bottom;
print-color-adjust:exact;-webkit-print-color-adjust:exact}
tfoot td,tfoot th{border-top:2px solid #16181a;font-weight:700}
.num{text-align:right;white-space:nowrap;font-variant-numeric:tabular-nums}
th.num{white-space:normal;hyphens:auto}
th.num,td.num{width:1%}
.text{overflow-wrap:anywhere;min-width:8em}
td.name{min-width:11em}
td.balance{min-width:9em}
td.id{white-space:nowrap}
tr.unbalanced td,tr.unbalanced th{background:var(--bad-bg);color:var(--bad);font-weight:700;
print-color-adjust:exact;-webkit-print-color-adjust:exact}
tr.error td{font-weight:600}
.flag{font-weight:700;color:var(--bad)}
.note{border-left:4px solid #8a6d00;background:#fff8e1;padding:.4rem .7rem;margin:.5rem 0;
print-color-adjust:exact;-webkit-print-color-adjust:exact}
figure{margin:1rem 0 1.4rem;break-inside:avoid}
figcaption{font-weight:600;margin-bottom:.3rem}
svg{display:block;width:100%;height:auto;max-width:900px;font-family:inherit}
svg text{fill:#16181a;font-size:11px}
svg .axis{stroke:#16181a;stroke-width:1}
svg .grid{stroke:#d5d8db;stroke-width:1}
.signoff{display:grid;grid-template-columns:1fr 1fr;gap:2rem;break-inside:avoid;margin-top:1rem}
.signoff h3{margin-top:0}
.signoff dl{margin:0}
.signoff dt{font-size:.85rem;color:var(--muted);margin-top:1.1rem}
.signoff dd{margin:0;border-bottom:1px solid #16181a;height:2rem}
.statement{break-inside:avoid}
footer{margin-top:2rem;padding-top:.5rem;border-top:1px solid var(--line);font-size:.8rem;
color:var(--muted)}
@page{size:A4;margin:14mm 12mm 16mm 12mm;
@bottom-left{content:"""
        + margin_note
        + """;font-size:7pt;color:#4a4f55}
@bottom-right{content:"Sida " counter(page) " av " counter(pages);font-size:7pt;color:#4a4f55}}
@media print{
html{font-size:9.5pt}
body{padding:0;max-width:none}
nav{display:none}
h2{margin-top:1.2rem}
table{font-size:7.6pt}
th,td{padding:.12rem .25rem}
thead{display:table-header-group}
tfoot{display:table-row-group} /* the total once, after the rows, not on each page */
tr,.keys div{break-inside:avoid}
.sign-section{break-before:page}
a{color:inherit;text-decoration:none}
}
"""
    )


def _header(review: Review, period: str) -> str:
    return (
        "<header>\n"
        f"<h1>{h(TITLE)}</h1>\n"
        f'<p class="period">Period: <strong>{h(period)}</strong></p>\n'
        '<dl class="meta">'
        f"<dt>Gjord</dt><dd>{h(swedish.moment(review.made_at))}</dd>"
        f"<dt>Gjord av</dt><dd>{h(review.made_by)}</dd>"
        f'<dt>Kontrollsumma (SHA-256)</dt><dd class="checksum">{h(review.checksum)}</dd>'
        "</dl>\n</header>\n"
    )


CONTENTS = (
    ("sammanfattning", "Sammanfattning"),
    ("avvikelser", "Avvikelser"),
    ("diagram", "Diagram"),
    ("per-manad", "Per beställningsmånad"),
    ("tillbakahallna", "Tillbakahållna"),
    ("ej-fakturerade", "Ej fakturerade"),
    ("andringar", "Ändringar som väntar"),
    ("kunduppgifter", "Kunduppgifter"),
    ("numrering", "Numrering"),
    ("dokument", "Dokument som inte godkänns"),
    ("kedjor", "Kedjor"),
    ("bokforing", "Bokföring (SIE)"),
    ("betalningar", "Betalningar och kundreskontra"),
    ("per-kund", "Per kund"),
    ("underskrift", "Underskrift"),
)


def _contents() -> str:
    items = join(f'<li><a href="#{key}">{h(label)}</a></li>' for key, label in CONTENTS)
    return f'<nav aria-label="Innehåll"><ol>{items}</ol></nav>\n'


def _footer(review: Review) -> str:
    return (
        "<footer>\n"
        f"<p>{h(TITLE)}, {h(period_text(review))}. Gjord {h(swedish.moment(review.made_at))} "
        f"av {h(review.made_by)}. Kontrollsumma (SHA-256): "
        f'<span class="checksum">{h(review.checksum)}</span>.</p>\n'
        "<p>Kontrollsumman är beräknad på de uppgifter genomlysningen gjordes av; samma summa "
        "vid en ny genomlysning betyder att inget har ändrats.</p>\n"
        "</footer>\n"
    )


# --- Summary --------------------------------------------------------------------------------


def _status(review: Review) -> str:
    total = review.totals
    # Green only when everything ties and nothing needs a person (issue 21, item 6).
    ok = review.all_clear
    unbalanced = sum(1 for month in review.months if not month.balanced)
    keys: list[tuple[str, str]] = [
        ("Beställningar", swedish.count(total.orders)),
        *(
            (capitalised(STATE_LABELS[state]), swedish.count(getattr(total, state)))
            for state in STATES
        ),
        ("Fakturerat netto (beställningarna)", swedish.money(total.invoiced_net)),
        ("Dokumentens rader (netto)", swedish.money(total.documents_net)),
        ("Månader som inte stämmer", swedish.count(unbalanced)),
        ("Avvikelser", swedish.count(len(review.discrepancies))),
        ("Behöver åtgärdas", swedish.count(review.needs_attention())),
    ]
    cells = join(
        f'<div><dt>{h(label)}</dt><dd data-key="{h(label)}">{h(value)}</dd></div>'
        for label, value in keys
    )
    verdict = (
        "✓ Allt stämmer"
        if ok
        else "✗ Stämmer INTE"
        if not review.balanced
        else "✗ Behöver åtgärdas: " + listed([a.text for a in review.attention()])
    )
    return (
        f'<section id="sammanfattning" class="status {"ok" if ok else "bad"}" '
        'aria-labelledby="sammanfattning-rubrik">\n'
        f'<h2 id="sammanfattning-rubrik" class="verdict">{h(verdict)}</h2>\n'
        f'<p class="summary">{h(review.summary())}</p>\n'
        + (
            f'<p class="note" id="fyraogon">{h(review.control_note())}</p>\n'
            if review.control_note()
            else ""
        )
        + f'<dl class="keys" id="totalt">{cells}</dl>\n'
        "</section>\n"
    )


def _discrepancies(review: Review) -> str:
    if not review.discrepancies:
        return (
            '<section id="avvikelser">\n<h2>Avvikelser</h2>\n'
            "<p>Inga avvikelser: varje beställning är räknad i exakt ett läge och beloppen stämmer "
            "med dokumenten.</p>\n</section>\n"
        )
    rows = [
        [
            h(d.month or "–"),
            h(d.order_id or "–"),
            h(d.number if d.number is not None else "–"),
            h(d.problem),
        ]
        for d in review.discrepancies[:HTML_LIST_CAP]
    ]
    return (
        '<section id="avvikelser" class="alert">\n'
        f"<h2>Avvikelser ({h(swedish.count(len(review.discrepancies)))})</h2>\n"
        "<p><strong>Genomlysningen går inte ihop.</strong> Utred varje avvikelse innan något "
        "faktureras eller bokförs.</p>\n"
        + _cap_note(len(review.discrepancies), "avvikelser", "Avvikelser")
        + _table(
            "avvikelser-tabell",
            ["Månad", "Beställnings-id", "Dokument", "Avvikelse"],
            rows,
            classes=["id", "id", "num", "text"],
        )
        + "</section>\n"
    )


# --- Charts ---------------------------------------------------------------------------------

CHART_WIDTH = 720
# Okabe–Ito colours (told apart also with colour blindness), different in lightness, and each
# state but the first with its own pattern, so that a grey print still tells them apart.
STATE_COLOURS = {
    "invoiced": "#009e73",
    "previously_invoiced": "#0072b2",
    "not_billable": "#a8a8a8",
    "in_draft": "#f0e442",
    "held_back": "#d55e00",
    "unbilled": "#56b4e9",
}
PATTERNS = {
    "invoiced": "",
    "previously_invoiced": '<path d="M0 3h6" stroke="#fff" stroke-width="1.4"/>',
    "not_billable": '<circle cx="3" cy="3" r="1.2" fill="#333"/>',
    "in_draft": '<path d="M0 0l6 6M-1 5l2 2M5 -1l2 2" stroke="#333" stroke-width="1"/>',
    "held_back": '<path d="M0 0l6 6M6 0l-6 6" stroke="#fff" stroke-width="1.2"/>',
    "unbilled": '<path d="M3 0v6" stroke="#fff" stroke-width="1.4"/>',
}
AMOUNT_COLOUR = "#0072b2"
REASON_COLOUR = "#d55e00"


def _fill(state: str) -> str:
    return f"url(#kf-{state})" if PATTERNS[state] else STATE_COLOURS[state]


def _pattern_defs() -> str:
    return join(
        f'<pattern id="kf-{state}" width="6" height="6" patternUnits="userSpaceOnUse">'
        f'<rect width="6" height="6" fill="{STATE_COLOURS[state]}"/>{PATTERNS[state]}</pattern>'
        for state in STATES
        if PATTERNS[state]
    )


def _nice_step(span: float, intervals: int = 4) -> float:
    """A step of 1, 2 or 5 times a power of ten that divides ``span`` in about ``intervals``."""
    if span <= 0:
        return 1.0
    raw = span / intervals
    power = 10 ** math.floor(math.log10(raw))
    for factor in (1, 2, 2.5, 5, 10):
        if factor * power >= raw:
            return factor * power
    return 10 * power  # pragma: no cover - the loop always returns


def _label_step(count: int) -> int:
    """Label every month up to a year, every 3rd up to three years, every 6th up to six, and
    then every 12th (January): about ten labels however long the period is."""
    if count <= 12:
        return 1
    if count <= 36:
        return 3
    if count <= 72:
        return 6
    return 12


def _month_number(month: str) -> int:
    try:
        return int(month[5:7])
    except ValueError:
        return 1


def _month_axis(months: Sequence[str], left: float, slot: float, baseline: float) -> str:
    step = _label_step(len(months))
    parts = []
    for index, month in enumerate(months):
        if step > 1 and (_month_number(month) - 1) % step:
            continue
        x = left + slot * (index + 0.5)
        label = month[:4] if step == 12 else month
        parts.append(
            f'<line class="axis" x1="{x:.1f}" y1="{baseline:.1f}" x2="{x:.1f}" '
            f'y2="{baseline + 4:.1f}"/>'
            f'<text class="month-label" x="{x:.1f}" y="{baseline + 16:.1f}" '
            f'text-anchor="middle">{h(label)}</text>'
        )
    return "".join(parts)


def _value_axis(
    top_value: float,
    bottom_value: float,
    step: float,
    scale: float,
    zero_y: float,
    left: float,
    right: float,
    label: "Callable[[float], str]",
) -> str:
    parts = []
    value = bottom_value
    while value <= top_value + step / 1000:
        y = zero_y - value * scale
        parts.append(
            f'<line class="grid" x1="{left:.1f}" y1="{y:.1f}" x2="{right:.1f}" y2="{y:.1f}"/>'
            f'<text x="{left - 6:.1f}" y="{y + 4:.1f}" text-anchor="end">{h(label(value))}</text>'
        )
        value += step
    return "".join(parts)


def _line(x1: float, y1: float, x2: float, y2: float) -> str:
    return f'<line class="axis" x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}"/>'


def _svg(key: str, height: float, title: str, description: str, body: str) -> str:
    return (
        f'<svg id="{key}" class="chart" role="img" viewBox="0 0 {CHART_WIDTH} {height:.0f}" '
        f'aria-labelledby="{key}-title {key}-desc" preserveAspectRatio="xMinYMin meet">'
        f'<title id="{key}-title">{h(title)}</title><desc id="{key}-desc">{h(description)}</desc>'
        f"{body}</svg>"
    )


def _no_data(key: str, title: str, text: str) -> str:
    return _svg(
        key,
        40,
        title,
        text,
        f'<text x="0" y="24" class="empty">{h(text)}</text>',
    )


def _orders_chart(months: Sequence[MonthRow]) -> str:
    title = "Beställningar per beställningsmånad, fördelade på läge"
    if not months:
        return _no_data("diagram-lagen", title, "Inga beställningar i perioden.")
    left, right, top, legend_height = 58.0, CHART_WIDTH - 8.0, 12.0, 44.0
    plot_top = top + legend_height
    baseline = plot_top + 210
    height = baseline + 26
    peak = max(month.accounted for month in months) or 1
    step = _nice_step(peak)
    ceiling = math.ceil(peak / step) * step
    scale = (baseline - plot_top) / ceiling
    slot = (right - left) / len(months)
    bar = min(max(slot * 0.78, 1.0) if slot > 2 else slot, 48.0)
    legend = []
    for index, state in enumerate(STATES):
        x = left + (index % 3) * 210
        y = top + (index // 3) * 20
        legend.append(
            f'<g class="legend-item"><rect x="{x:.1f}" y="{y:.1f}" width="14" height="14" '
            f'fill="{_fill(state)}" stroke="#16181a" stroke-width=".6"/>'
            f'<text x="{x + 20:.1f}" y="{y + 11:.1f}">{h(capitalised(STATE_LABELS[state]))}'
            "</text></g>"
        )
    segments = []
    for index, month in enumerate(months):
        x = left + slot * index + (slot - bar) / 2
        y = baseline
        for state in STATES:
            value = getattr(month, state)
            if value <= 0:
                continue
            size = value * scale
            y -= size
            segments.append(
                f'<rect class="segment" data-state="{state}" x="{x:.2f}" y="{y:.2f}" '
                f'width="{bar:.2f}" height="{size:.2f}" fill="{_fill(state)}">'
                f"<title>{h(month.month)}: {h(STATE_LABELS[state])} {h(swedish.count(value))}"
                "</title></rect>"
            )
    body = (
        f"<defs>{_pattern_defs()}</defs>"
        + "".join(legend)
        + _value_axis(
            ceiling, 0, step, scale, baseline, left, right, lambda v: swedish.count(int(v))
        )
        + "".join(segments)
        + f'<line class="axis" x1="{left}" y1="{baseline}" x2="{right}" y2="{baseline}"/>'
        + _month_axis([m.month for m in months], left, slot, baseline)
    )
    description = (
        f"Staplat stapeldiagram över {len(months)} beställningsmånader, "
        f"{months[0].month} till {months[-1].month}: varje stapel är månadens beställningar, "
        "uppdelade på fakturerade, tidigare fakturerade, ej fakturerbara, i utkast, "
        "tillbakahållna och ej fakturerade än. Siffrorna står i tabellen Per beställningsmånad."
    )
    return _svg("diagram-lagen", height, title, description, body)


def _amount_chart(months: Sequence[MonthRow]) -> str:
    title = "Fakturerat netto per beställningsmånad"
    if not months:
        return _no_data("diagram-belopp", title, "Inga beställningar i perioden.")
    values = [float(month.invoiced_net) for month in months]
    high, low = max(*values, 0.0), min(*values, 0.0)
    step = _nice_step(high - low or 1.0)
    ceiling = math.ceil(high / step) * step
    floor = math.floor(low / step) * step
    if ceiling == floor:
        ceiling = floor + step
    labels = [f"{swedish.count(int(v))} kr" for v in (ceiling, floor)]
    left = 16.0 + 6.2 * max(len(label) for label in labels)
    right, top = CHART_WIDTH - 8.0, 10.0
    plot_height = 180.0
    scale = plot_height / (ceiling - floor)
    zero_y = top + ceiling * scale
    bottom = top + plot_height
    height = bottom + 26
    slot = (right - left) / len(months)
    bar = min(max(slot * 0.78, 1.0) if slot > 2 else slot, 48.0)
    bars = []
    for index, (month, value) in enumerate(zip(months, values, strict=True)):
        x = left + slot * index + (slot - bar) / 2
        size = abs(value) * scale
        y = zero_y - size if value >= 0 else zero_y
        bars.append(
            f'<rect class="bar" x="{x:.2f}" y="{y:.2f}" width="{bar:.2f}" height="{size:.2f}" '
            f'fill="{AMOUNT_COLOUR}"><title>{h(month.month)}: '
            f"{h(swedish.money(month.invoiced_net))}</title></rect>"
        )
    body = (
        _value_axis(
            ceiling,
            floor,
            step,
            scale,
            zero_y,
            left,
            right,
            lambda v: f"{swedish.count(int(v))} kr",
        )
        + "".join(bars)
        + _line(left, zero_y, right, zero_y)
        + _month_axis([m.month for m in months], left, slot, bottom)
    )
    total = sum((month.invoiced_net for month in months), Decimal("0.00"))
    description = (
        f"Stapeldiagram över fakturerat netto för {len(months)} beställningsmånader, "
        f"{months[0].month} till {months[-1].month}, sammanlagt {swedish.money(total)}. "
        "Beloppen står i tabellen Per beställningsmånad."
    )
    return _svg("diagram-belopp", height, title, description, body)


def _reasons_chart(review: Review) -> str:
    return reasons_chart(review.held_back_by_reason())


def reasons_chart(by_reason: dict[str, int]) -> str:
    """The held-back orders per reason (label → count) as a bar chart; also used by the web
    application's review page, which keeps only these counts of a review."""
    title = "Tillbakahållna beställningar per skäl"
    counts = sorted(by_reason.items(), key=lambda item: (-item[1], item[0]))
    if not counts:
        return _no_data("diagram-skal", title, "Inga beställningar hålls tillbaka.")
    row, top = 24.0, 4.0
    label_width = min(6.3 * max(len(label) for label, _ in counts) + 10, 300.0)
    left = label_width
    right = CHART_WIDTH - 80.0
    peak = max(value for _, value in counts)
    height = top + row * len(counts) + 6
    bars = []
    for index, (label, value) in enumerate(counts):
        y = top + row * index
        width = max((right - left) * value / peak, 1.0)
        bars.append(
            f'<text x="{left - 8:.1f}" y="{y + 15:.1f}" text-anchor="end">{h(label)}</text>'
            f'<rect class="bar" x="{left:.1f}" y="{y + 3:.1f}" width="{width:.1f}" height="16" '
            f'fill="{REASON_COLOUR}"><title>{h(label)}: {h(swedish.count(value))}</title></rect>'
            f'<text class="value" x="{left + width + 6:.1f}" y="{y + 15:.1f}">'
            f"{h(swedish.count(value))}</text>"
        )
    body = "".join(bars) + _line(left, top, left, height - 4)
    description = "Liggande stapeldiagram: " + "; ".join(
        f"{label} {swedish.count(value)}" for label, value in counts
    )
    return _svg("diagram-skal", height, title, description, body)


# The web application's review page draws the same charts from a review's stored figures.
orders_chart = _orders_chart
amount_chart = _amount_chart


def _charts(review: Review) -> str:
    figures = [
        ("Beställningar per beställningsmånad och läge", _orders_chart(review.months)),
        ("Fakturerat netto per beställningsmånad", _amount_chart(review.months)),
        ("Tillbakahållna beställningar per skäl", _reasons_chart(review)),
    ]
    return (
        '<section id="diagram">\n<h2>Diagram</h2>\n'
        + "".join(
            f"<figure><figcaption>{h(caption)}</figcaption>{svg}</figure>\n"
            for caption, svg in figures
        )
        + "</section>\n"
    )


# --- Tables ---------------------------------------------------------------------------------


def _table(
    key: str,
    headers: Sequence[str],
    rows: Iterable[Sequence[Html]],
    *,
    classes: Sequence[str],
    row_classes: Sequence[str] | None = None,
    foot: Sequence[Html] | None = None,
) -> str:
    def cell_class(index: int) -> str:
        return f' class="{classes[index]}"' if classes[index] else ""

    head = join(f'<th scope="col"{cell_class(i)}>{h(text)}</th>' for i, text in enumerate(headers))
    body = []
    for number, row in enumerate(rows):
        marker = row_classes[number] if row_classes and row_classes[number] else ""
        attribute = f' class="{marker}"' if marker else ""
        cells = join(f"<td{cell_class(i)}>{h(value)}</td>" for i, value in enumerate(row))
        body.append(f"<tr{attribute}>{cells}</tr>")
    footer = ""
    if foot is not None:
        cells = join(f"<td{cell_class(i)}>{h(value)}</td>" for i, value in enumerate(foot))
        footer = f"<tfoot><tr>{cells}</tr></tfoot>"
    return (
        f'<table id="{key}"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody>{footer}</table>\n"
    )


def _cap_note(total: int, plural: str, sheet: str) -> str:
    if total <= HTML_LIST_CAP:
        return ""
    return (
        f'<p class="note">Här visas de första {h(swedish.count(HTML_LIST_CAP))} av '
        f"{h(swedish.count(total))} {h(plural)}. Hela listan finns i Excel-filen "
        f"(bladet {h(sheet)}).</p>\n"
    )


def _empty(text: str) -> str:
    return f'<p class="empty">{h(text)}</p>\n'


def _balance_text(month: MonthRow) -> Html:
    if month.balanced:
        return h("Ja")
    problems = []
    if month.accounted != month.orders:
        problems.append(
            f"{swedish.count(month.accounted)} redovisade av {swedish.count(month.orders)}"
        )
    if month.invoiced_net != month.documents_net:
        problems.append(
            f"beloppen skiljer {swedish.money(month.invoiced_net - month.documents_net)}"
        )
    return Html(f'<span class="flag">Nej</span> – {h(", ".join(problems))}')


def _months_table(review: Review) -> str:
    headers = [
        "Månad",
        "Beställningar",
        *(capitalised(STATE_LABELS[state]) for state in STATES),
        "Fakturerat netto",
        "Dokumentens rader",
        "Stämmer",
    ]
    classes = ["id", "num", *("num" for _ in STATES), "num", "num", "balance"]
    rows = [
        [
            h(month.month),
            h(swedish.count(month.orders)),
            *(h(swedish.count(getattr(month, state))) for state in STATES),
            h(swedish.money(month.invoiced_net)),
            h(swedish.money(month.documents_net)),
            _balance_text(month),
        ]
        for month in review.months
    ]
    total = review.totals
    foot = [
        h("Totalt"),
        h(swedish.count(total.orders)),
        *(h(swedish.count(getattr(total, state))) for state in STATES),
        h(swedish.money(total.invoiced_net)),
        h(swedish.money(total.documents_net)),
        h("Ja" if all(month.balanced for month in review.months) else "Nej"),
    ]
    unbalanced = sum(1 for month in review.months if not month.balanced)
    intro = (
        "Varje beställning är räknad i exakt ett läge, var för sig; summan av lägena ska vara "
        "månadens beställningar, och det fakturerade nettot ska vara dokumentens rader för "
        "månaden (kreditnotor negativa)."
    )
    if unbalanced:
        intro += (
            f" {swedish.counted(unbalanced, 'månad', 'månader')} stämmer inte och är markerade."
        )
    return (
        '<section id="per-manad">\n<h2>Per beställningsmånad</h2>\n'
        f"<p>{h(intro)}</p>\n"
        + (
            _table(
                "manader",
                headers,
                rows,
                classes=classes,
                row_classes=["" if m.balanced else "unbalanced" for m in review.months],
                foot=foot,
            )
            if review.months
            else _empty("Inga beställningar i perioden.")
        )
        + "</section>\n"
    )


def _findings(
    findings: Sequence[OrderFinding], *, key: str, heading: str, empty: str, intro: str
) -> str:
    if not findings:
        return f'<section id="{key}">\n<h2>{h(heading)}</h2>\n{_empty(empty)}</section>\n'
    parts = [
        f'<section id="{key}">\n<h2>{h(heading)} ({h(swedish.count(len(findings)))})</h2>\n',
        f"<p>{h(intro)}</p>\n",
    ]
    by_reason = Counter((f.label, f.action) for f in findings)
    parts.append(
        _table(
            f"{key}-skal",
            ["Skäl", "Antal", "Åtgärd"],
            [
                [h(label), h(swedish.count(number)), h(action)]
                for (label, action), number in sorted(
                    by_reason.items(), key=lambda item: (-item[1], item[0])
                )
            ],
            classes=["text", "num", "text"],
        )
    )
    if len(findings) > HTML_LIST_CAP:
        by_customer = Counter((f.orgnr, f.customer, f.label) for f in findings)
        ranked = sorted(by_customer.items(), key=lambda item: (-item[1], item[0]))
        parts.append(f"<h3>Per kund och skäl ({h(swedish.count(len(ranked)))})</h3>\n")
        if len(ranked) > HTML_LIST_CAP:
            parts.append(
                f'<p class="note">De {h(swedish.count(HTML_LIST_CAP))} kunderna och skälen med '
                "flest beställningar; alla finns i Excel-filen (bladet Att åtgärda).</p>\n"
            )
        parts.append(
            _table(
                f"{key}-kunder",
                ["Orgnr", "Kund", "Skäl", "Antal"],
                [
                    [h(orgnr), h(customer or "(okänd)"), h(label), h(swedish.count(number))]
                    for (orgnr, customer, label), number in ranked[:HTML_LIST_CAP]
                ],
                classes=["id", "text name", "text", "num"],
            )
        )
        parts.append("<h3>Beställningarna</h3>\n")
        parts.append(_cap_note(len(findings), "beställningar", "Att åtgärda"))
    parts.append(
        _table(
            f"{key}-lista",
            ["Beställnings-id", "Datum", "Orgnr", "Kund", "Skäl", "Åtgärd"],
            [
                [
                    h(f.order_id),
                    h(f.order_date.isoformat()),
                    h(f.orgnr),
                    h(f.customer or "(okänd)"),
                    h(f.label),
                    h(f.action),
                ]
                for f in findings[:HTML_LIST_CAP]
            ],
            classes=["id", "id", "id", "text name", "text", "text"],
        )
    )
    parts.append("</section>\n")
    return "".join(parts)


def _pending_changes(review: Review) -> str:
    changes = review.pending_changes
    heading = "Ändringar som väntar på beslut"
    if not changes:
        return (
            f'<section id="andringar">\n<h2>{h(heading)}</h2>\n'
            f"{_empty('Inga ändringar av fakturerade beställningar väntar på beslut.')}</section>\n"
        )
    return (
        f'<section id="andringar">\n<h2>{h(heading)} ({h(swedish.count(len(changes)))})</h2>\n'
        "<p>Ändringar av redan fakturerade beställningar som en person ska godta eller avvisa "
        "(<code>kortfaktura changes</code>).</p>\n"
        + _cap_note(len(changes), "ändringar", "Ändringar")
        + _table(
            "andringar-lista",
            ["Id", "Beställnings-id", "Faktura", "Fält", "Tidigare", "Nytt"],
            [
                [
                    h(c.id),
                    h(c.order_id),
                    h(c.invoice_number if c.invoice_number is not None else "–"),
                    h(c.field),
                    h(c.old),
                    h(c.new),
                ]
                for c in changes[:HTML_LIST_CAP]
            ],
            classes=["num", "id", "num", "text", "text", "text"],
        )
        + "</section>\n"
    )


def _customer_data(review: Review) -> str:
    problems = sorted(review.customer_data, key=lambda p: (p.severity != "error", p.orgnr))
    heading = "Problem i kunduppgifterna"
    if not problems:
        return (
            f'<section id="kunduppgifter">\n<h2>{h(heading)}</h2>\n'
            f"{_empty('Inga problem i kunduppgifterna.')}</section>\n"
        )
    errors = sum(1 for p in problems if p.severity == "error")
    return (
        f'<section id="kunduppgifter">\n<h2>{h(heading)} ({h(swedish.count(len(problems)))})</h2>\n'
        f"<p>{h(swedish.counted(errors, 'fel', 'fel'))} (stoppar fakturering) och "
        f"{h(swedish.counted(len(problems) - errors, 'varning', 'varningar'))}.</p>\n"
        + _cap_note(len(problems), "problem", "Kunduppgifter")
        + _table(
            "kunduppgifter-lista",
            ["Allvar", "Orgnr", "Kundkonto", "Problem"],
            [
                [
                    Html('<span class="flag">Fel</span>')
                    if p.severity == "error"
                    else h("Varning"),
                    h(p.orgnr),
                    h(p.account_code),
                    h(p.problem),
                ]
                for p in problems[:HTML_LIST_CAP]
            ],
            classes=["", "id", "id", "text"],
            row_classes=[
                "error" if p.severity == "error" else "" for p in problems[:HTML_LIST_CAP]
            ],
        )
        + "</section>\n"
    )


def _numbering(review: Review) -> str:
    heading = "Luckor i numreringen"
    if not review.gaps:
        return (
            f'<section id="numrering">\n<h2>{h(heading)}</h2>\n'
            f"{_empty('Inga luckor: dokumentnumren följer på varandra.')}</section>\n"
        )
    ranges = gap_ranges(review.gaps)
    return (
        f'<section id="numrering">\n<h2>{h(heading)} ({h(swedish.count(len(review.gaps)))} '
        "saknade nummer)</h2>\n"
        + _cap_note(len(ranges), "luckor", "Numrering")
        + _table(
            "numrering-lista",
            ["Från nummer", "Till nummer", "Saknas"],
            [
                [h(first), h(last), h(swedish.count(last - first + 1))]
                for first, last in ranges[:HTML_LIST_CAP]
            ],
            classes=["num", "num", "num"],
        )
        + "</section>\n"
    )


def _payments(review: Review) -> str:
    """The payments read and what waits for a person (R21), and the receivables (R22)."""
    paid = review.payments
    figures = [
        ("Inlästa betalfiler", swedish.count(paid.files)),
        ("Betalningar", f"{swedish.count(paid.payments)} ({swedish.money(paid.amount)})"),
        ("Utan faktura – koppla eller betala tillbaka",
         f"{swedish.count(paid.unmatched)} ({swedish.money(paid.unmatched_amount)})"),
        ("Att betala tillbaka",
         f"{swedish.count(paid.refund)} ({swedish.money(paid.refund_amount)})"),
        ("Öppet i kundreskontran", swedish.money(paid.total_open)),
        ("Varav förfallet", swedish.money(paid.overdue)),
        ("Kunders tillgodohavanden", swedish.money(paid.credit_balance)),
    ]  # fmt: skip
    rows = [[h(label), h(value)] for label, value in figures]
    return (
        '<section id="betalningar">\n<h2>Betalningar och kundreskontra</h2>\n'
        "<p>Varje betalfil jämförd med det den gav när den lästes in, och varje kunds öppna "
        "belopp med fakturorna, krediteringarna och betalningarna; det som inte stämmer står "
        "under Avvikelser.</p>\n"
        + _table("betalningar-lista", ["Vad", "Antal eller belopp"], rows, classes=["", "num"])
        + "</section>\n"
    )


def _bookkeeping(review: Review) -> str:
    """The SIE exports against the documents of their periods as they are now (issue 10)."""
    heading = "Bokföring (SIE)"
    unbooked = review.unbooked_documents
    note = (
        _empty(
            f"{swedish.counted(len(unbooked), 'utfärdat dokument', 'utfärdade dokument')} "
            "ingår ännu inte i någon SIE-export – exportera med kortfaktura export sie."
        )
        if unbooked
        else _empty("Varje utfärdat dokument ingår i en SIE-export.")
    )
    if not review.exports:
        return f'<section id="bokforing">\n<h2>{h(heading)}</h2>\n{note}</section>\n'
    rows = [
        [
            h(e.made_at.strftime("%Y-%m-%d %H.%M")),
            h(e.made_by),
            h(f"{e.period_from.isoformat()} – {e.period_to.isoformat()}"),
            h(swedish.count(e.vouchers)),
            h(swedish.money(e.debit)),
            h(swedish.count(max(e.documents_now, 0))),
            h(swedish.money(e.debit_now)),
            h(
                f"Ersatt av export {e.superseded_by}"
                if e.superseded_by
                else "Ja"
                if e.matches
                else "Nej – bokför skillnaden eller exportera igen"
            ),
        ]
        for e in review.exports
    ]
    return (
        f'<section id="bokforing">\n<h2>{h(heading)}</h2>\n'
        "<p>Varje export jämförd med de dokument som nu är utfärdade i dess period.</p>\n"
        + _table(
            "bokforing-lista",
            ["Gjord", "Av", "Utfärdade", "Verifikationer", "Debet", "Dokument nu",
             "Debet nu", "Stämmer"],
            rows,
            classes=["", "", "", "num", "num", "num", "num", ""],
            row_classes=["" if e.matches else "unbalanced" for e in review.exports],
        )
        + note
        + "</section>\n"
    )  # fmt: skip


def _invalid_documents(review: Review) -> str:
    documents = review.invalid_documents
    heading = "Dokument som inte godkänns"
    if not documents:
        return (
            f'<section id="dokument">\n<h2>{h(heading)}</h2>\n'
            f"{_empty('Alla utfärdade dokument godkänns av valideringen.')}</section>\n"
        )
    return (
        f'<section id="dokument">\n<h2>{h(heading)} ({h(swedish.count(len(documents)))})</h2>\n'
        + _cap_note(len(documents), "dokument", "Dokument")
        + _table(
            "dokument-lista",
            ["Nummer", "Problem"],
            [[h(d.number), h(d.problem)] for d in documents[:HTML_LIST_CAP]],
            classes=["num", "text"],
        )
        + "</section>\n"
    )


def _chains(review: Review) -> str:
    """The hash chains (R19): whether each holds, and its head to keep outside the system."""
    heading = "Kedjor"
    intro = (
        "<p>Varje utfärdat dokument och varje post i granskningsloggen är länkad till den före "
        "med en kontrollsumma över sitt innehåll. Spara huvudena (sista länken) utanför "
        "systemet; en senare genomlysning med <code>kortfaktura review --expect-head</code> och "
        "ett sparat huvud visar om historiken fram till dit har skrivits om.</p>\n"
    )
    if not review.chains:
        return (
            f'<section id="kedjor">\n<h2>{h(heading)}</h2>\n{intro}'
            f"{_empty('Inga kedjor kontrollerades.')}</section>\n"
        )
    rows = [
        [
            h(c.label),
            h(swedish.count(c.length)),
            h(c.head_number if c.head_number is not None else "–"),
            Html(f'<span class="checksum">{h(c.head_hash or "–")}</span>'),
            h("Hel")
            if c.ok
            else Html(
                f'<span class="flag">Bruten</span> – '
                f"{h(swedish.counted(len(c.broken), 'brott', 'brott'))}, se avvikelserna"
            ),
        ]
        for c in review.chains
    ]
    return (
        f'<section id="kedjor">\n<h2>{h(heading)}</h2>\n{intro}'
        + _table(
            "kedjor-lista",
            ["Kedja", "Länkar", "Sista (nummer eller post)", "Huvud (SHA-256)", "Stämmer"],
            rows,
            classes=["text", "num", "num", "text", ""],
            row_classes=["" if c.ok else "unbalanced" for c in review.chains],
        )
        + "</section>\n"
    )


def _customers_table(review: Review) -> str:
    customers = review.customers
    if not customers:
        return f'<section id="per-kund">\n<h2>Per kund</h2>\n{_empty("Inga kunder.")}</section>\n'
    headers = [
        "Orgnr",
        "Namn",
        "Beställningar",
        *(capitalised(STATE_LABELS[state]) for state in STATES),
        "Fakturerat netto",
    ]
    rows = [
        [
            h(c.orgnr),
            h(c.name or "(okänd)"),
            h(swedish.count(c.orders)),
            *(h(swedish.count(getattr(c, state))) for state in STATES),
            h(swedish.money(c.invoiced_net)),
        ]
        for c in customers
    ]
    foot = [
        h("Totalt"),
        h(swedish.counted(len(customers), "kund", "kunder")),
        h(swedish.count(sum(c.orders for c in customers))),
        *(h(swedish.count(sum(getattr(c, state) for c in customers))) for state in STATES),
        h(swedish.money(sum((c.invoiced_net for c in customers), Decimal("0.00")))),
    ]
    return (
        f'<section id="per-kund">\n<h2>Per kund ({h(swedish.count(len(customers)))})</h2>\n'
        + _table(
            "kunder",
            headers,
            rows,
            classes=["id", "text name", "num", *("num" for _ in STATES), "num"],
            foot=foot,
        )
        + "</section>\n"
    )


def _heads_statement(review: Review) -> str:
    """The chains' heads on the signed page: a copy of them outside the system (R19)."""
    heads = [c for c in review.chains if c.expect]
    if not heads:
        return ""
    items = join(
        f'<li>{h(c.label)}: <span class="checksum">{h(c.expect)}</span></li>' for c in heads
    )
    return (
        '<p class="statement">Kedjornas huvuden när genomlysningen gjordes (kontrollera senare '
        "med <code>kortfaktura review --expect-head</code>):</p>\n"
        f'<ul class="heads">{items}</ul>\n'
    )


def _sign_off(review: Review) -> str:
    def block(role: str) -> str:
        lines = join(
            f"<dt>{h(label)}</dt><dd></dd>" for label in ("Granskad av", "Datum", "Underskrift")
        )
        return f"<div><h3>{h(role)}</h3><dl>{lines}</dl></div>"

    return (
        '<section id="underskrift" class="sign-section">\n<h2>Granskning och underskrift</h2>\n'
        '<p class="statement">Underskriften avser genomlysningen för perioden '
        f"<strong>{h(period_text(review))}</strong>, gjord {h(swedish.moment(review.made_at))} av "
        f"{h(review.made_by)}, med kontrollsumma (SHA-256) "
        f'<span class="checksum">{h(review.checksum)}</span>.</p>\n'
        f'<p class="statement"><strong>{h(review.summary())}</strong></p>\n'
        + _heads_statement(review)
        + f'<div class="signoff">{block("Ekonomi (VGR)")}{block("Granskare")}</div>\n'
        "</section>\n"
    )
