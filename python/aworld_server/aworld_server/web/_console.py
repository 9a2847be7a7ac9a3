"""The web console: server-rendered pages over the same data as the JSON API, with two small
scripts (``static/``) that keep the task list fresh and make the task page live. Nothing is
fetched from elsewhere, so it works offline; everything shown is escaped.

Pages: ``/`` tasks (status filter, search), ``/tasks/{id}`` one task (live event timeline,
run-node tree with durations, trajectory), ``/workers`` workers and handlers with their load.
With auth on, a page asked for without a token answers 401 with a form that stores the token
in an HttpOnly, same-site cookie (``/login``).
"""

from __future__ import annotations

from html import escape
from pathlib import Path

from aiohttp import web
from aworld_client import TaskStatus

from aworld_server.errors import NotFound
from aworld_server.web._access import CALLER, COOKIE, HttpAccess
from aworld_server.web._api import handler_infos, list_tasks, visible, worker_infos
from aworld_server.web._sources import Sources

__all__ = ["add_console_routes"]

STATIC = Path(__file__).with_name("static")
_FILTERS = [
    TaskStatus.PENDING,
    TaskStatus.RUNNING,
    TaskStatus.INPUT_REQUIRED,
    TaskStatus.SUCCEEDED,
    TaskStatus.FAILED,
    TaskStatus.CANCELLED,
    TaskStatus.TIMED_OUT,
    TaskStatus.INTERRUPTED,
]


def _page(title: str, here: str, body: str, *, script: str = "", data: str = "") -> web.Response:
    nav = "".join(
        f'<a href="{href}"{" class=here" if href == here else ""}>{label}</a>'
        for href, label in (("/", "Tasks"), ("/workers", "Workers"), ("/metrics", "Metrics"))
    )
    tail = f'<script src="/static/{script}"></script>' if script else ""
    return web.Response(
        content_type="text/html",
        text=f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>{escape(title)} · AWorld</title><link rel="stylesheet" href="/static/console.css"></head>
<body{data}><header><span class="brand">AWorld Runtime</span>{nav}</header>
<main>{body}</main>{tail}</body></html>""",
    )


def _badge(status: TaskStatus) -> str:
    name = status.name.lower()
    return f'<span class="badge s-{name}">{name}</span>'


def _login(message: str) -> web.Response:
    form = f"""<h1>Sign in</h1><p class="meta">{escape(message)}</p>
<form class="filters" method="post" action="/login">
<input type="password" name="token" placeholder="bearer token" autofocus size="40">
<button>Sign in</button></form>"""
    response = _page("Sign in", "", form)
    response.set_status(401)
    return response


def add_console_routes(app: web.Application, sources: Sources, access: HttpAccess) -> None:
    runtime = sources.runtime

    def allowed(request: web.Request) -> web.Response | None:
        """None when the caller may read; else the page to answer instead."""
        caller = access.caller(request)
        if caller is None:
            return _login("This server needs a token (the same as for gRPC).")
        if not caller.principal.has("read") or not caller.principal.may_use(caller.namespace):
            return _login(f"This token may not read namespace {caller.namespace!r}.")
        request[CALLER] = caller
        return None

    async def tasks(request: web.Request) -> web.StreamResponse:
        if (refused := allowed(request)) is not None:
            return refused
        chosen = request.query.get("status", "")
        search = request.query.get("q", "")
        statuses = [s for s in _FILTERS if s.name == chosen.upper()]
        page = await list_tasks(runtime, request[CALLER], statuses, search, 100, "")
        rows = "".join(
            f'<tr><td class="mono"><a href="/tasks/{escape(t.id)}">{escape(t.id)}</a></td>'
            f"<td>{escape(t.name)}</td><td>{_badge(t.status)}</td>"
            f'<td class="mono">{t.created_at.isoformat() if t.created_at else ""}</td>'
            f'<td class="mono">{t.updated_at.isoformat() if t.updated_at else ""}</td></tr>'
            for t in page.tasks
        )
        options = "".join(
            f'<option value="{s.name}"{" selected" if s in statuses else ""}>'
            f"{s.name.lower()}</option>"
            for s in _FILTERS
        )
        body = f"""<h1>Tasks</h1>
<form class="filters" method="get"><select name="status"><option value="">any status</option>
{options}</select><input name="q" value="{escape(search)}" placeholder="search id or name">
<button>Filter</button></form>
<table><thead><tr><th>Task</th><th>Name</th><th>Status</th><th>Created</th><th>Updated</th>
</tr></thead><tbody id="tasks">{rows}</tbody></table>"""
        return _page("Tasks", "/", body, script="list.js")

    async def task(request: web.Request) -> web.StreamResponse:
        if (refused := allowed(request)) is not None:
            return refused
        task_id = request.match_info["task_id"]
        try:
            await visible(runtime, request[CALLER], task_id)
            view = await runtime.get_task(task_id)
        except NotFound:
            raise web.HTTPNotFound(text=f"no task {task_id}") from None
        answer = view.response.answer.as_text() if view.response.answer else ""
        body = f"""<h1>Task <span class="mono">{escape(task_id)}</span>
<span id="status">{_badge(view.response.status)}</span> <span id="live" class="live"></span></h1>
<p class="meta">{escape(view.task.name)} · created {view.created_at.isoformat()}
{" · trace " + escape(view.response.trace_id) if view.response.trace_id else ""}</p>
<p id="answer">{escape(answer)}</p>
<div class="grid"><section class="panel"><h2>Timeline</h2><ol id="timeline" class="timeline">
</ol></section><section class="panel"><h2>Run tree</h2><div id="tree"></div></section></div>
<h2>Trajectory</h2><table><thead><tr><th>Step</th><th>Agent</th><th>State (input)</th>
<th>Action</th><th>Tool outputs</th><th>Status</th></tr></thead><tbody id="trajectory">
</tbody></table>"""
        return _page(
            f"Task {task_id}",
            "/",
            body,
            script="task.js",
            data=f' data-task-id="{escape(task_id)}"',
        )

    async def workers(request: web.Request) -> web.StreamResponse:
        if (refused := allowed(request)) is not None:
            return refused

        def load(in_flight: int, limit: int) -> str:
            share = min(100, round(100 * in_flight / limit)) if limit else 0
            return (
                f'<div class="bar" title="{in_flight}/{limit}"><span style="width:{share}%">'
                f"</span></div> {in_flight} / {limit or '∞'}"
            )

        worker_rows = "".join(
            f'<tr><td class="mono">{escape(w.worker_id)}</td><td>{escape(w.sdk)}</td>'
            f'<td class="mono">{escape(", ".join(w.handler_names))}</td>'
            f"<td>{load(w.in_flight, w.max_concurrency)}</td>"
            f'<td class="mono">{w.last_seen_at.isoformat() if w.last_seen_at else ""}</td></tr>'
            for w in await worker_infos(sources)
        )
        in_flight = sources.metrics.calls_in_flight()
        handler_rows = "".join(
            f'<tr><td class="mono">{escape(h.spec.name)}</td><td>{h.spec.kind.name.lower()}</td>'
            f"<td>{'in process' if h.local else 'workers'}</td><td>{h.worker_count}</td>"
            f"<td>{in_flight.get(h.spec.name, 0)}</td></tr>"
            for h in await handler_infos(sources)
            if h.spec is not None
        )
        body = f"""<h1>Workers</h1><table><thead><tr><th>Worker</th><th>SDK</th><th>Handlers</th>
<th>Calls in flight</th><th>Last seen</th></tr></thead><tbody id="workers">{worker_rows}</tbody>
</table><h2>Handlers</h2><table><thead><tr><th>Handler</th><th>Kind</th><th>Served</th>
<th>Workers</th><th>Calls in flight</th></tr></thead><tbody id="handlers">{handler_rows}</tbody>
</table>"""
        return _page("Workers", "/workers", body)

    async def login(request: web.Request) -> web.StreamResponse:
        token = str((await request.post()).get("token", ""))
        if access.principal_of(token) is None:
            return _login("That token is not valid here.")
        redirect = web.HTTPSeeOther("/")
        redirect.set_cookie(COOKIE, token, httponly=True, samesite="Strict")
        raise redirect

    app.router.add_get("/", tasks)
    app.router.add_get("/tasks/{task_id}", task)
    app.router.add_get("/workers", workers)
    app.router.add_post("/login", login)
    app.router.add_static("/static/", STATIC)
