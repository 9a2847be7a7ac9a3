// The task list: re-read from /api/v1/tasks every two seconds with the page's filters.
"use strict";
const body = document.getElementById("tasks");
function statusName(s) { return (s || "").replace(/^TASK_STATUS_/, "").toLowerCase(); }
function cell(text, className) { const td = document.createElement("td"); td.textContent = text; if (className) td.className = className; return td; }
async function reload() {
  const response = await fetch(`/api/v1/tasks${window.location.search}`);
  if (!response.ok) return;
  const tasks = (await response.json()).tasks || [];
  body.replaceChildren(...tasks.map((t) => {
    const row = document.createElement("tr");
    const link = document.createElement("a");
    link.href = `/tasks/${encodeURIComponent(t.id)}`;
    link.textContent = t.id;
    const id = cell("", "mono"); id.append(link);
    const status = cell(""); const badge = document.createElement("span");
    badge.className = `badge s-${statusName(t.status)}`; badge.textContent = statusName(t.status); status.append(badge);
    row.append(id, cell(t.name || ""), status, cell(t.createdAt || "", "mono"), cell(t.updatedAt || "", "mono"));
    return row;
  }));
}
setInterval(reload, 2000);
