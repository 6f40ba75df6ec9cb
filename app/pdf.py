"""Reports as PDF: WeasyPrint renders the same templates the pages use, with report.css.

Korean text needs a CJK font on the machine (Debian: fonts-noto-cjk); `make` installs it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request

from app.services.readiness import VERDICT_LABELS, VERDICT_RULES, Report
from app.templating import STATIC_DIR, templates

REPORT_CSS = STATIC_DIR / "report.css"


def render_pdf(request: Request, template: str, context: dict[str, Any]) -> bytes:
    from weasyprint import CSS, HTML  # imported on first use: it loads Pango and the fonts

    html = templates.get_template(template).render({"request": request, **context})
    document = HTML(string=html, base_url=str(Path(STATIC_DIR)))
    return bytes(document.write_pdf(stylesheets=[CSS(filename=str(REPORT_CSS))]))


def report_context(report: Report) -> dict[str, Any]:
    """What the readiness templates (page and PDF) need besides the report."""
    return {"report": report, "verdict_rules": VERDICT_RULES, "verdict_labels": VERDICT_LABELS}


def readiness_pdf(request: Request, report: Report) -> bytes:
    return render_pdf(request, "reports/readiness.html", report_context(report))


def warm_up() -> None:
    """Load WeasyPrint, Pango and the CJK font once, off the request path: the first report
    otherwise pays a few seconds for it."""
    import threading

    def render() -> None:
        from weasyprint import HTML

        HTML(string='<html lang="ko"><body>위탁 준비도</body></html>').write_pdf()

    threading.Thread(target=render, name="pdf-warm-up", daemon=True).start()
