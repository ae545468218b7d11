"""A journey drawn as SVG by Graphviz (`dot`), with live counts per stage.

The layout is Graphviz's; we only write the DOT description (stages as nodes, transitions as labelled
edges) and ask `dot -Tsvg` for the picture. Needs the Graphviz binaries (Debian: apt-get install
graphviz); without them the admin shows the DOT source and says what to install.
"""

from __future__ import annotations

import shutil
import subprocess

from journeys.definition import transition_kind


class GraphvizMissing(RuntimeError):
    pass


def _q(text: object) -> str:
    """A DOT double-quoted string."""
    return '"' + str(text).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _edge_label(t: dict) -> str:
    kind = transition_kind(t)
    if kind == "after":
        a = t["after"]
        parts = [f"{a[u]} {u}" for u in ("days", "hours", "minutes") if u in a]
        return "after " + " ".join(parts) + (f" at {a['at']}" if "at" in a else "")
    if kind == "on_event":
        where = " (where …)" if t["on_event"].get("where") else ""
        return f"on {t['on_event'].get('event')}{where}"
    if kind == "on_audience_entered":
        return f"enters {t['on_audience_entered']}"
    if kind == "on_onsite":
        return f"on-site #{t['on_onsite'].get('message')} {t['on_onsite'].get('did')}"
    if kind == "if":
        return "if rule"
    if kind == "else":
        return "else"
    return ""


def _action_label(action: dict) -> str:
    kind, body = next(iter(action.items()))
    if kind == "send" and isinstance(body, dict):
        return f"send {body.get('channel')}: {body.get('template')}"
    if kind == "tag" and isinstance(body, dict) and body:
        op, name = next(iter(body.items()))
        return f"tag {op} {name}"
    if kind == "set_trait" and isinstance(body, dict):
        return "set " + ", ".join(body)
    if kind == "webhook" and isinstance(body, dict):
        return f"webhook #{body.get('endpoint')}"
    if kind == "onsite" and isinstance(body, dict):
        return f"on-site #{body.get('message')} next visit"
    return kind


def journey_dot(definition: dict, counts: dict[str, dict[str, int]] | None = None) -> str:
    """DOT source for a definition; `counts` (stage → {"now", "visited"}) adds live numbers."""
    counts = counts or {}
    lines = [
        "digraph journey {",
        '  graph [rankdir=LR, fontname="Helvetica", bgcolor="transparent", nodesep=0.4, ranksep=0.6];',
        '  node [shape=box, style="rounded,filled", fillcolor="#f6f8fa", color="#79aec8", fontname="Helvetica", fontsize=11];',
        '  edge [fontname="Helvetica", fontsize=9, color="#666666"];',
        '  entry [shape=circle, label="", width=0.25, style=filled, fillcolor="#417690", color="#417690"];',
    ]
    stages = [
        s for s in definition.get("stages", []) if isinstance(s, dict) and isinstance(s.get("key"), str)
    ]
    keys = {s["key"] for s in stages}
    for s in stages:
        key = s["key"]
        label = [key]
        for action in s.get("actions", []) or []:
            if isinstance(action, dict) and action:
                label.append(_action_label(action))
        c = counts.get(key)
        if c:
            label.append(f"now {c.get('now', 0):,} · visited {c.get('visited', 0):,}")
        attrs = [f"label={_q(chr(10).join(label))}", f"id={_q('stage-' + key)}"]
        if s.get("exit"):
            attrs += ["shape=box", "peripheries=2", 'fillcolor="#e8f5e9"', 'color="#2e7d32"']
        elif "split" in s:
            attrs += ["shape=diamond", 'fillcolor="#fff8e1"', 'color="#f9a825"']
        lines.append(f"  {_q(key)} [{', '.join(attrs)}];")
    if stages:
        entry = definition.get("entry", {})
        entry_label = (
            entry.get("event") or entry.get("audience_entered") or entry.get("schedule") or ""
            if isinstance(entry, dict) else ""
        )  # fmt: skip
        lines.append(f"  entry -> {_q(stages[0]['key'])} [label={_q(entry_label)}];")
    for s in stages:
        for t in s.get("transitions", []) or []:
            if isinstance(t, dict) and t.get("to") in keys:
                lines.append(f"  {_q(s['key'])} -> {_q(t['to'])} [label={_q(_edge_label(t))}];")
        for branch in s.get("split", []) or []:
            if isinstance(branch, dict) and branch.get("to") in keys:
                lines.append(
                    f"  {_q(s['key'])} -> {_q(branch['to'])} [label={_q(str(branch.get('weight', '?')) + '%')}, style=dashed];"
                )
    lines.append("}")
    return "\n".join(lines)


def dot_to_svg(dot: str, *, timeout: float = 10.0) -> str:
    binary = shutil.which("dot")
    if binary is None:
        raise GraphvizMissing("Graphviz is not installed (Debian/Ubuntu: apt-get install graphviz)")
    result = subprocess.run(
        [binary, "-Tsvg"], input=dot, capture_output=True, text=True, timeout=timeout, check=False
    )
    if result.returncode != 0:
        raise RuntimeError(f"dot failed: {result.stderr.strip()[:500]}")
    svg = result.stdout
    # Drop the XML prolog and DOCTYPE so the SVG can be inlined in an HTML page.
    start = svg.find("<svg")
    return svg[start:] if start >= 0 else svg


def journey_svg(definition: dict, counts: dict[str, dict[str, int]] | None = None) -> str:
    return dot_to_svg(journey_dot(definition, counts))
